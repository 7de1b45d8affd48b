#!/usr/bin/env node
// The only place that exits: commands return an exit code (0 ok, 1 check failed, 2 usage or input error).

// glibc's malloc: `serve` holds thousands of idle TLS connections, whose OpenSSL and Node buffers cost less resident
// memory in one arena than in glibc's default of up to 8 per core (bench/conn-memory.mjs, Node 24: a bare node:tls
// server 65 -> 50 KiB per idle mTLS connection, mtlsgate 94 -> 72). glibc reads the setting once, at start, so the
// process replaces itself (same pid) with it in its environment; a value the caller set is kept.
if (
  process.argv[2] === 'serve' &&
  process.platform === 'linux' &&
  process.env.MALLOC_ARENA_MAX === undefined &&
  typeof process.execve === 'function'
) {
  try {
    process.execve(process.execPath, [process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
      ...process.env,
      MALLOC_ARENA_MAX: '1',
    });
  } catch {
    // Not replaced (a sandbox refusing execve): serve as is, with glibc's default arenas.
  }
}

// Loaded after the check above: a process about to replace itself need not load the CLI first.
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
