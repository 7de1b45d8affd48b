/** The demo's self-test: the accepted and the denied request, sent with Node's TLS client, and the doctor's answer. */
import https from 'node:https';
import { readFileSync } from 'node:fs';
import type { Io } from './io.js';
import type { PkiFiles } from '../pki/generate.js';
import { diagnose } from '../doctor/diagnose.js';

interface Answer {
  status: number;
  body: string;
}

function get(
  port: number,
  domain: string,
  ca: string,
  cert: string | null,
  key: string | null,
  o: { path?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        servername: domain,
        path: o.path ?? '/hello',
        headers: { host: `${domain}:${port}`, ...o.headers },
        ca: readFileSync(ca),
        ...(cert !== null && key !== null && { cert: readFileSync(cert), key: readFileSync(key) }),
        agent: false,
        timeout: 5000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

export async function runSelftest(
  io: Io,
  o: { port: number; domain: string; files: PkiFiles; revoked: { cert: string; key: string } },
): Promise<boolean> {
  const f = o.files;
  const good = await get(o.port, o.domain, f.rootCert, f.clientCert, f.clientKey);
  const subject = (JSON.parse(good.body) as { headers?: Record<string, string> }).headers?.['x-client-cert-subject-dn'];
  const okGood = good.status === 200 && subject !== undefined;
  io.stdout.write(
    `${okGood ? 'ok  ' : 'FAIL'} accepted request: HTTP ${good.status}, backend saw x-client-cert-subject-dn: ${subject ?? '(none)'}\n`,
  );
  const bad = await get(o.port, o.domain, f.rootCert, f.selfSignedCert, f.selfSignedKey);
  const okBad = bad.status === 403 && bad.body.includes('self-signed certificate');
  io.stdout.write(`${okBad ? 'ok  ' : 'FAIL'} denied request: HTTP ${bad.status} ${bad.body}\n`);
  const report = await diagnose({ files: { cert: f.selfSignedCert, key: f.selfSignedKey, truststore: f.truststore } });
  const reason = report.verdict && !report.verdict.accepted ? report.verdict.reason : null;
  const explained = report.findings.some((x) => x.id === 'chain.self-signed-untrusted');
  const okDoc = reason === 'self-signed certificate' && explained;
  const fix = report.findings.find((x) => x.id.startsWith('chain.'))?.fix.split('\n')[0] ?? '(no fix)';
  io.stdout.write(`${okDoc ? 'ok  ' : 'FAIL'} doctor: ${reason ?? 'not denied'} -> ${fix}\n`);
  const gone = await get(o.port, o.domain, f.rootCert, o.revoked.cert, o.revoked.key);
  const okGone = gone.status === 403 && gone.body.includes('certificate revoked');
  io.stdout.write(`${okGone ? 'ok  ' : 'FAIL'} revoked request: HTTP ${gone.status} ${gone.body}\n`);
  const why = await diagnose({
    files: { cert: o.revoked.cert, key: o.revoked.key, truststore: f.truststore, crls: [f.intermediateCrl] },
  });
  const finding = why.findings.find((x) => x.id === 'revocation.revoked');
  const okWhy = why.verdict?.accepted === false && why.verdict.code === 'CERT_REVOKED' && finding !== undefined;
  io.stdout.write(`${okWhy ? 'ok  ' : 'FAIL'} doctor --crl: ${finding?.title ?? 'not revoked'}\n`);
  const open = await get(o.port, o.domain, f.rootCert, null, null, { path: '/public/hello' });
  const okOpen = open.status === 200;
  io.stdout.write(`${okOpen ? 'ok  ' : 'FAIL'} /public without a certificate: HTTP ${open.status}\n`);
  const noToken = await get(o.port, o.domain, f.rootCert, f.clientCert, f.clientKey, { path: '/orders/42' });
  const order = await get(o.port, o.domain, f.rootCert, f.clientCert, f.clientKey, {
    path: '/orders/42',
    headers: { 'x-demo-token': 'letmein' },
  });
  const body = order.status === 200 ? (JSON.parse(order.body) as { order?: string; clientCert?: string }) : {};
  const okLambda =
    noToken.status === 401 && order.status === 200 && body.order === '42' && body.clientCert === 'CN=client';
  io.stdout.write(
    `${okLambda ? 'ok  ' : 'FAIL'} /orders: without the token HTTP ${noToken.status}; with it HTTP ${order.status} ${order.body}\n`,
  );
  return okGood && okBad && okDoc && okGone && okWhy && okOpen && okLambda;
}
