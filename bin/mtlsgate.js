#!/usr/bin/env node
// The only place that exits: commands return an exit code (0 ok, 1 check failed, 2 usage or input error).
import { main } from '../dist/cli/main.js';

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
