/** Binding a listener, and the one line a user reads when its address cannot be had. */
import type { Server } from 'node:net';

export function listen(o: {
  server: Server;
  host: string;
  port: number;
  /** SO_REUSEPORT, beside sibling worker threads on the same address. */
  reusePort?: boolean;
  /** The error to reject with, from its one-line message ("cannot listen on HOST:PORT: address in use"). */
  onError: (message: string) => Error;
}): Promise<void> {
  const { server, host, port } = o;
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => {
      const why = e.code === 'EADDRINUSE' ? 'address in use' : e.code === 'EACCES' ? 'permission denied' : e.message;
      reject(o.onError(`cannot listen on ${host}:${port}: ${why}`));
    };
    server.once('error', onError);
    server.listen({ port, host, reusePort: o.reusePort === true }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
