#!/usr/bin/env node
// The only place that exits: commands return an exit code (0 ok, 1 check failed, 2 usage or input error).
import module from 'node:module';

// V8's code cache for our modules, kept by Node on disk: a command compiles its modules once per machine, not on every
// run (serve --check on 10,000 CAs: -11 %). NODE_COMPILE_CACHE moves it, NODE_DISABLE_COMPILE_CACHE=1 turns it off;
// a cache that cannot be written is skipped. main is imported after, so its modules use it.
module.enableCompileCache?.();
const { main } = await import('../dist/cli/main.js');

// `mtlsgate inspect big.pem | head`: a reader that stops early is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env }).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`mtlsgate: internal error: ${err?.stack ?? err}\n`);
    process.exitCode = 3;
  },
);
