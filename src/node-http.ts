/**
 * node:http, loaded with require. ESM's import of node:http builds a facade that reads every export, and the lazy
 * WebSocket/EventSource getters among them load Node's bundled undici, http2 and tls: about 13 MiB of heap and
 * 80 ms of start-up in every isolate (the CLI and each gateway thread). require reads no export it is not asked for.
 */
import { createRequire } from 'node:module';
import type * as Http from 'node:http';

export const http: typeof Http = createRequire(import.meta.url)('node:http');
