/**
 * A real `mtlsgate serve` process for end-to-end tests: the config is written (as JSON) into a temp directory,
 * `node bin/mtlsgate.js serve --config FILE` is spawned, its stdout JSON log lines are collected, and start()
 * resolves once the admin /readyz answers 200. Ports are 0 in the config; the real ones are read from the
 * "listening" and "admin listening" log lines. Every process started here is killed when the test process exits.
 * domainConfig() makes one `domains` entry of such a config.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { tmpDir, type ServerIdentity } from './pki.js';
import { BIN, REPO, buildDiagnostics, ensureBuilt } from './build.js';

export interface LogLine {
  level: string;
  time: string;
  msg: string;
  [key: string]: unknown;
}

export interface StartOptions {
  /** The config object; `listen` and `admin` default to 127.0.0.1 port 0. */
  config: Record<string, unknown>;
  /** Where config.json goes (relative paths in the config resolve against it); default a fresh temp directory. */
  dir?: string;
  env?: NodeJS.ProcessEnv;
  /** Extra arguments after `serve --config FILE`. */
  args?: string[];
  /** Node options before the entry point (e.g. `--import` of a test's fault injector). */
  nodeArgs?: string[];
  startTimeoutMs?: number;
}

const running = new Set<ChildProcess>();
let exitHook = false;

export class GatewayProcess {
  readonly logs: LogLine[] = [];
  /** stdout lines that were not JSON. */
  readonly otherOutput: string[] = [];
  stderr = '';
  port = 0;
  adminPort = 0;
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  readonly exited: Promise<void>;
  private waiters: { pred: (l: LogLine) => boolean; from: number; resolve: (l: LogLine) => void }[] = [];

  private constructor(
    readonly child: ChildProcess,
    readonly dir: string,
    readonly configPath: string,
  ) {
    let buf = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) !== -1) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim() !== '') this.onLine(line);
      }
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.exitCode = code;
        this.exitSignal = signal;
        running.delete(child);
        resolve();
      }),
    );
  }

  get pid(): number {
    return this.child.pid!;
  }

  private onLine(line: string): void {
    let rec: LogLine;
    try {
      rec = JSON.parse(line) as LogLine;
    } catch {
      this.otherOutput.push(line);
      return;
    }
    const index = this.logs.length;
    this.logs.push(rec);
    this.waiters = this.waiters.filter((w) => {
      if (index >= w.from && w.pred(rec)) {
        w.resolve(rec);
        return false;
      }
      return true;
    });
  }

  /** Mark the current end of the log; pass it to waitForLog/logsSince to look only at what comes after. */
  mark(): number {
    return this.logs.length;
  }

  logsSince(mark: number): LogLine[] {
    return this.logs.slice(mark);
  }

  /** The first log line (at or after `from`) matching `pred`, waiting for it up to `timeoutMs`. */
  waitForLog(pred: (l: LogLine) => boolean, opts: { from?: number; timeoutMs?: number } = {}): Promise<LogLine> {
    const from = opts.from ?? 0;
    const found = this.logs.slice(from).find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(
          new Error(`no matching gateway log line within ${opts.timeoutMs ?? 5000} ms; last lines:\n${this.tail()}`),
        );
      }, opts.timeoutMs ?? 5000);
      const waiter = {
        pred,
        from,
        resolve: (l: LogLine) => {
          clearTimeout(timer);
          resolve(l);
        },
      };
      this.waiters.push(waiter);
    });
  }

  /** The log line with this request id and message (deny lines and request lines both carry requestId). */
  waitForRequestLog(requestId: string, msg: string | RegExp, from = 0): Promise<LogLine> {
    return this.waitForLog(
      (l) => l.requestId === requestId && (typeof msg === 'string' ? l.msg === msg : msg.test(l.msg)),
      { from },
    );
  }

  tail(n = 15): string {
    return [
      ...this.logs.slice(-n).map((l) => JSON.stringify(l)),
      ...this.otherOutput.slice(-5),
      this.stderr.slice(-2000),
    ].join('\n');
  }

  /** GET/POST on the admin listener. */
  admin(path: string, method = 'GET'): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: this.adminPort, path, method, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.setTimeout(30_000, () => req.destroy(new Error('admin request timed out')));
      req.end();
    });
  }

  signal(sig: NodeJS.Signals): void {
    this.child.kill(sig);
  }

  /** SIGTERM (the gateway drains), then SIGKILL if it has not exited after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.exitCode !== null || this.exitSignal !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  static async start(opts: StartOptions): Promise<GatewayProcess> {
    await ensureBuilt();
    const dir = opts.dir ?? tmpDir();
    const config = { listen: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 }, ...opts.config };
    const configPath = join(dir, 'config.json');
    writeFileSync(configPath, JSON.stringify(config, null, 2));
    // One process unless the test asks for workers (the default is one per core): a test's gateway is one PID to watch.
    const args = opts.args ?? [];
    const workers = args.includes('--workers') ? [] : ['--workers', '1'];
    const nodeArgs = opts.nodeArgs ?? [];
    const child = spawn(process.execPath, [...nodeArgs, BIN, 'serve', '--config', configPath, ...workers, ...args], {
      cwd: REPO,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(child);
    if (!exitHook) {
      exitHook = true;
      process.once('exit', () => running.forEach((c) => c.kill('SIGKILL')));
    }
    const gw = new GatewayProcess(child, dir, configPath);
    const timeoutMs = opts.startTimeoutMs ?? 20_000;
    const failed = (why: string): Error =>
      new Error(
        `mtlsgate serve ${why}\n--- log ---\n${gw.tail()}${buildDiagnostics ? `\n--- build diagnostics ---\n${buildDiagnostics}` : ''}`,
      );
    const exitedEarly = gw.exited.then(() => {
      throw failed(`exited during start-up (code ${gw.exitCode}, signal ${gw.exitSignal})`);
    });
    exitedEarly.catch(() => undefined);
    try {
      const ready = (async () => {
        const listening = await gw.waitForLog((l) => l.msg === 'listening', { timeoutMs });
        gw.port = (listening.address as { port: number }).port;
        const admin = await gw.waitForLog((l) => l.msg === 'admin listening', { timeoutMs });
        gw.adminPort = (admin.address as { port: number }).port;
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const r = await gw.admin('/readyz').catch(() => null);
          if (r?.status === 200) return;
          if (Date.now() > deadline)
            throw failed(
              `not ready within ${timeoutMs} ms (last /readyz: ${r ? `${r.status} ${r.body}` : 'no answer'})`,
            );
          await new Promise((res) => setTimeout(res, 50));
        }
      })();
      await Promise.race([ready, exitedEarly]);
    } catch (e) {
      await gw.stop(1000);
      throw e instanceof Error && e.message.startsWith('mtlsgate serve') ? e : failed(String((e as Error).message));
    }
    return gw;
  }
}

export const startGateway = (opts: StartOptions): Promise<GatewayProcess> => GatewayProcess.start(opts);

/** `domain` config entry with the usual defaults for tests. */
export function domainConfig(
  domainName: string,
  server: ServerIdentity,
  truststoreFile: string,
  targets: { basePath: string; target: string }[],
  mutualTls: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    domainName,
    certificate: { cert: server.certFile, key: server.keyFile },
    mutualTls: { truststoreUri: `file://${truststoreFile}`, exposeReason: true, ...mutualTls },
    basePathMappings: targets,
  };
}
