// The ceiling for mtlsgate on Node (bench/run.mjs `--servers node`): a minimal mutual-TLS HTTP/1.1 forwarder of the
// same shape. node:https with requestCert and the same certificate, key and truststore, one process per worker
// (node:cluster, the kernel spreads connections as in mtlsgate), undici's Pool.dispatch() to the same backend, the
// same identity headers (computed once per connection), hop-by-hop headers dropped. No policy, no routing, no log,
// no metrics: what Node and undici cost for this exchange, so `mtlsgate ÷ node` says what is ours.
//
//   node node-forwarder.mjs --port P --backend-port B --cert F --key F --ca F [--workers N] [--sni] [--renew-tickets]
import cluster from 'node:cluster';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

const { values: o } = parseArgs({
  options: {
    port: { type: 'string' },
    'backend-port': { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    ca: { type: 'string' },
    workers: { type: 'string', default: '1' },
    // Pick the certificate in an SNICallback (a context per name), as mtlsgate does: what that path costs.
    sni: { type: 'boolean', default: false },
    // Renew the TLS 1.3 ticket on every resumption, as mtlsgate does (Node's own ticketKeys never renews one, so
    // OpenSSL clients, which use a ticket once, resume only every other connection): the ceiling for resumptions.
    'renew-tickets': { type: 'boolean', default: false },
  },
});
for (const k of ['port', 'backend-port', 'cert', 'key', 'ca']) {
  if (!o[k]) {
    process.stderr.write(`node-forwarder: --${k} is required\n`);
    process.exit(2);
  }
}

if (cluster.isPrimary && Number(o.workers) > 1) {
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  // One ticket key for every worker, as mtlsgate shares its own: a resumed client may land on any of them.
  const env = { NODE_FORWARDER_TICKET_KEYS: randomBytes(48).toString('base64') };
  for (let i = 0; i < Number(o.workers); i++) cluster.fork(env);
  const stop = () => {
    for (const w of Object.values(cluster.workers)) w.kill('SIGTERM');
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  serve();
}

function serve() {
  const origin = `http://127.0.0.1:${o['backend-port']}`;
  const pool = new Pool(origin, { connections: 128, keepAliveTimeout: 30_000 });
  const DROP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
  const DROP_RES = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection']);
  const identities = new WeakMap();

  /** The identity headers of a connection's client certificate, once per connection. */
  const identity = (socket) => {
    let id = identities.get(socket);
    if (id === undefined) {
      const c = socket.getPeerX509Certificate();
      id = [
        'client-cert',
        `:${c.raw.toString('base64')}:`,
        'x-client-cert-subject-dn',
        c.subject.replaceAll('\n', ','),
        'x-client-cert-issuer-dn',
        c.issuer.replaceAll('\n', ','),
        'x-client-cert-serial',
        c.serialNumber,
      ];
      identities.set(socket, id);
    }
    return id;
  };

  const creds = { cert: fs.readFileSync(o.cert), key: fs.readFileSync(o.key), ca: fs.readFileSync(o.ca) };
  const sniContext = o.sni ? tls.createSecureContext(creds) : null;
  const server = https.createServer(
    {
      ...(o.sni ? { ca: creds.ca, SNICallback: (_name, cb) => cb(null, sniContext) } : creds),
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
      keepAliveTimeout: 75_000,
      ...(process.env.NODE_FORWARDER_TICKET_KEYS
        ? { ticketKeys: Buffer.from(process.env.NODE_FORWARDER_TICKET_KEYS, 'base64') }
        : {}),
    },
    (req, res) => {
      const headers = [
        'host',
        `127.0.0.1:${o['backend-port']}`,
        'x-forwarded-for',
        req.socket.remoteAddress,
        'x-forwarded-proto',
        'https',
        'x-forwarded-host',
        req.headers.host ?? '',
        ...identity(req.socket),
      ];
      const raw = req.rawHeaders;
      for (let i = 0; i < raw.length; i += 2) {
        const name = raw[i].toLowerCase();
        if (DROP.has(name) || name === 'host' || name.startsWith('x-forwarded-') || name.startsWith('x-client-cert'))
          continue;
        headers.push(name, raw[i + 1]);
      }
      const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
      pool.dispatch(
        { method: req.method, path: req.url, headers, body: hasBody ? req : null },
        {
          onRequestStart() {},
          onResponseStart(controller, status) {
            const out = [];
            const rh = controller.rawHeaders;
            for (let i = 0; i < rh.length; i += 2) {
              const name = rh[i].toString('latin1').toLowerCase();
              if (!DROP_RES.has(name)) out.push(name, rh[i + 1].toString('latin1'));
            }
            res.writeHead(status, out);
          },
          // No backpressure: the bench's answers are ~90 bytes.
          onResponseData(_controller, chunk) {
            res.write(chunk);
          },
          onResponseEnd() {
            res.end();
          },
          onResponseError(_controller, err) {
            if (res.headersSent) res.destroy();
            else res.writeHead(502, { 'content-type': 'text/plain' }).end(`bad gateway: ${err.message}\n`);
          },
        },
      );
    },
  );
  if (o['renew-tickets']) {
    const keys = process.env.NODE_FORWARDER_TICKET_KEYS
      ? Buffer.from(process.env.NODE_FORWARDER_TICKET_KEYS, 'base64')
      : randomBytes(48);
    for (const ctx of [server._sharedCreds?.context, sniContext?.context]) if (ctx) renewTickets(ctx, keys);
  }
  server.listen(Number(o.port), '127.0.0.1');
  process.on('SIGTERM', () => process.exit(0));
}

/**
 * OpenSSL's ticket key callback through Node's undocumented SecureContext hook (what src/gateway/ticket-keys.ts
 * uses): seal with the one key, and answer 2 ("renew") to a ticket it opens, so a resumed connection gets a new one.
 */
function renewTickets(ctx, keys) {
  if (typeof ctx.enableTicketKeyCallback !== 'function') {
    process.stderr.write('node-forwarder: --renew-tickets: this Node has no ticket key callback hook\n');
    process.exit(2);
  }
  const [name, hmac, aes] = [keys.subarray(0, 16), keys.subarray(16, 32), keys.subarray(32, 48)];
  ctx.onticketkeycallback = (ticketName, _iv, encrypt) =>
    encrypt ? [1, hmac, aes, name, randomBytes(16)] : ticketName.equals(name) ? [2, hmac, aes] : [0, hmac, aes];
  ctx.enableTicketKeyCallback();
}
