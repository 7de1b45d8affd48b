/**
 * `mtlsgate health --url http://127.0.0.1:9901/readyz [--timeout-ms N]`: a probe for container images without curl
 * (a Dockerfile HEALTHCHECK). Exit 0 on a 2xx answer, 1 on anything else with one line saying why (the status, a
 * refused connection, no answer in time), 2 on a usage error.
 */
import { http } from '../node-http.js';
import https from 'node:https';
import { Command } from 'commander';
import { UserError } from '../errors.js';
import type { CliContext } from './context.js';

/** A probe is short: Docker's and the kubelet's probe timeouts are seconds. */
const MAX_TIMEOUT_MS = 600_000;

export type HealthResult = { ok: true; status: number } | { ok: false; why: string };

export function healthCommand(ctx: CliContext): Command {
  return new Command('health')
    .description('probe a health endpoint (the admin /readyz or /healthz): exit 0 on a 2xx answer, 1 otherwise')
    .requiredOption('--url <url>', 'the http:// (or https://) URL to GET, e.g. http://127.0.0.1:9901/readyz')
    .option('--timeout-ms <n>', 'give up after this many milliseconds', '2000')
    .action(async (o: { url: string; timeoutMs: string }) => {
      const url = parseHealthUrl(o.url);
      const timeoutMs = parseTimeoutMs(o.timeoutMs);
      const r = await probeHealth(url, timeoutMs);
      if (r.ok) {
        ctx.io.stdout.write(`${url.href}: ${r.status}\n`);
      } else {
        ctx.io.stderr.write(`mtlsgate: health: ${url.href}: ${r.why}\n`);
        ctx.setExitCode(1);
      }
    });
}

function parseHealthUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UserError('E_HEALTH_URL', `--url: "${text}" is not a URL; give http://host:port/path`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UserError('E_HEALTH_URL', `--url: expected an http:// or https:// URL, not ${url.protocol}`);
  return url;
}

function parseTimeoutMs(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > MAX_TIMEOUT_MS)
    throw new UserError(
      'E_BAD_TIMEOUT_MS',
      `--timeout-ms: "${text}" is not a whole number from 1 to ${MAX_TIMEOUT_MS}`,
    );
  return n;
}

/** GET `url`; the whole exchange (connect to last byte of the head) within `timeoutMs`. The body is not read. */
export function probeHealth(url: URL, timeoutMs: number): Promise<HealthResult> {
  return new Promise((resolve) => {
    const get = url.protocol === 'https:' ? https.get : http.get;
    const req = get(url, { agent: false, headers: { 'user-agent': 'mtlsgate-health' } }, (res) => {
      clearTimeout(timer);
      res.resume();
      req.destroy();
      const status = res.statusCode ?? 0;
      resolve(status >= 200 && status < 300 ? { ok: true, status } : { ok: false, why: `status ${status}` });
    });
    const timer = setTimeout(() => {
      req.destroy();
      resolve({ ok: false, why: `no answer within ${timeoutMs} ms` });
    }, timeoutMs);
    req.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ ok: false, why: connectionProblem(e) });
    });
  });
}

function connectionProblem(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'ECONNREFUSED':
      return 'connection refused (nothing listens there)';
    case 'ECONNRESET':
      return 'connection reset';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `host not found (${e.code})`;
    default:
      return e.code ? `${e.code}: ${e.message.split('\n')[0]}` : e.message.split('\n')[0]!;
  }
}
