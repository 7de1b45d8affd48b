// Fault injection for the worker threads of `serve --workers N`, loaded with `node --import` (a file worker thread
// runs the process's --import modules too). In a gateway thread it polls MTLSGATE_TEST_FAULTS (a directory) for:
//   throw-once  claimed (renamed away) by the first thread to see it, which then throws an uncaught exception;
//   throw-all   every thread that sees it throws (restarted threads too: the restart budget runs out);
//   oom-once    claimed as throw-once; that thread allocates until its heap limit ends it.
import { existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { isMainThread, threadId, workerData } from 'node:worker_threads';

const dir = process.env.MTLSGATE_TEST_FAULTS;
const gatewayThread = !isMainThread && typeof workerData?.configPath === 'string';

const claim = (name) => {
  try {
    renameSync(join(dir, name), join(dir, `${name}.taken-${threadId}`));
    return true;
  } catch {
    return false;
  }
};

if (dir && gatewayThread) {
  setInterval(() => {
    if (existsSync(join(dir, 'throw-all')) || claim('throw-once')) throw new Error(`injected fault in ${threadId}`);
    if (claim('oom-once')) {
      const hog = [];
      for (;;) hog.push(new Array(100_000).fill(threadId));
    }
  }, 25).unref();
}
