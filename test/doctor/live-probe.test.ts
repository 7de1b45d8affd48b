/**
 * probe() against real Node servers that are not mtlsgate: `https`/`tls` servers with requestCert (rejecting or
 * not), a TLS 1.2-only and a TLS 1.3-only one, one that asks for no certificate, and plain answers (403, 421, a
 * stated deny reason). The diagnosis must be right without knowing what runs on the other side.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { issue, type Issued } from '../../src/pki/generate.js';
import { probe } from '../../src/doctor/live/probe.js';
import type { ProbeInput, ProbeReport } from '../../src/doctor/live/types.js';

const DAY = 86_400_000;
const root = await issue({ subject: 'CN=Probe Root,O=mtlsgate test', profile: 'root-ca' });
const int = await issue({ subject: 'CN=Probe Intermediate,O=mtlsgate test', profile: 'intermediate-ca', issuer: root });
const server = await issue({
  subject: 'CN=localhost',
  profile: 'server',
  issuer: int,
  sans: ['DNS:localhost', 'IP:127.0.0.1'],
});
const expiredServer = await issue({
  subject: 'CN=localhost',
  profile: 'server',
  issuer: int,
  sans: ['DNS:localhost'],
  notBefore: new Date(Date.now() - 30 * DAY),
  notAfter: new Date(Date.now() - DAY),
});
const good = await issue({ subject: 'CN=good client', profile: 'client', issuer: int });
const otherRoot = await issue({ subject: 'CN=Other Root', profile: 'root-ca' });
const stranger = await issue({ subject: 'CN=stranger', profile: 'client', issuer: otherRoot });
const closers: (() => void)[] = [];
after(() => closers.forEach((c) => c()));

const client = (c: Issued): ProbeInput['client'] => ({ chainPem: c.certPem, keyPem: c.keyPem });
const ids = (r: ProbeReport): string[] => r.findings.map((f) => f.id);
const find = (r: ProbeReport, id: string) => {
  const f = r.findings.find((x) => x.id === id);
  assert.ok(f, `expected ${id}, got ${ids(r).join(', ')}`);
  return f;
};

/** An https server answering 200 with what it thought of the client certificate, or a fixed answer. */
async function serve(
  opts: https.ServerOptions,
  answer?: { status: number; body: string },
  cert: Issued = server,
): Promise<string> {
  const srv = https.createServer({ key: cert.keyPem, cert: cert.certPem + int.certPem, ...opts }, (req, res) => {
    const s = req.socket as TLSSocket;
    if (answer) res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
    else res.end(JSON.stringify({ authorized: s.authorized, error: s.authorizationError ?? null }));
  });
  srv.on('tlsClientError', () => {});
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  closers.push(() => {
    srv.closeAllConnections();
    srv.close();
  });
  return `https://localhost:${(srv.address() as AddressInfo).port}/status`;
}

const strict = { requestCert: true, rejectUnauthorized: true, ca: [root.certPem, int.certPem] };

test('Node https, requestCert + rejectUnauthorized: a good certificate gets through; the CA names are read', async () => {
  const url = await serve(strict);
  const r = await probe({ url, cacertPem: root.certPem, client: client(good) });
  assert.equal(r.outcome.kind, 'http');
  assert.equal(r.outcome.kind === 'http' && r.outcome.status, 200);
  assert.deepEqual(ids(r), ['http.ok']);
  assert.equal(r.tls?.version, 'TLSv1.3');
  assert.equal(r.tls?.serverVerified, true);
  assert.equal(r.tls?.clientCertRequested, true);
  assert.equal(r.tls?.clientCertSent, true);
  assert.deepEqual(r.tls?.acceptableCAs, ['CN=Probe Root,O=mtlsgate test', 'CN=Probe Intermediate,O=mtlsgate test']);
  assert.deepEqual(r.tls?.serverChain.map((c) => c.subject).slice(0, 2), [
    'CN=localhost',
    'CN=Probe Intermediate,O=mtlsgate test',
  ]);
  assert.ok(['dns', 'tcp', 'tls', 'http', 'total'].every((k) => typeof r.timings[k] === 'number'));
});

test("Node https rejecting: a stranger's certificate is refused without an alert; its issuer is not among the CA names", async () => {
  const url = await serve(strict);
  const r = await probe({ url, cacertPem: root.certPem, client: client(stranger) });
  assert.equal(r.outcome.kind, 'closed-after-handshake');
  assert.match(find(r, 'tls.closed-after-handshake').title, /rejected without an alert/);
  const ca = find(r, 'tls.ca-not-accepted');
  assert.equal(ca.severity, 'error');
  assert.equal(ca.evidence['clientIssuer'], 'CN=Other Root');
  assert.deepEqual(ca.evidence['acceptableCAs'], [
    'CN=Probe Root,O=mtlsgate test',
    'CN=Probe Intermediate,O=mtlsgate test',
  ]);
  assert.match(ca.detail, /OpenSSL clients \(curl, Node, mtlsgate\) send the configured certificate anyway/);
});

test('Node https rejecting: no certificate gets alert 116 (TLS 1.3) or 40 (TLS 1.2), both "certificate required"', async () => {
  const r13 = await probe({ url: await serve(strict), cacertPem: root.certPem });
  assert.equal(r13.outcome.kind, 'tls-failed');
  assert.deepEqual(r13.outcome.kind === 'tls-failed' && [r13.outcome.alert, r13.outcome.afterHandshake], [
    'certificate_required',
    true,
  ]);
  assert.equal(r13.tls?.clientCertSent, false);
  assert.match(find(r13, 'tls.client-cert-required').title, /alert 116 certificate_required/);

  const r12 = await probe({ url: await serve({ ...strict, maxVersion: 'TLSv1.2' }), cacertPem: root.certPem });
  assert.deepEqual(r12.outcome.kind === 'tls-failed' && [r12.outcome.alert, r12.outcome.afterHandshake], [
    'handshake_failure',
    false,
  ]);
  assert.match(find(r12, 'tls.client-cert-required').title, /alert 40 handshake_failure/);
});

test('Node https on TLS 1.2 rejecting a certificate closes during the handshake, after the certificate was sent', async () => {
  const r = await probe({
    url: await serve({ ...strict, maxVersion: 'TLSv1.2' }),
    cacertPem: root.certPem,
    client: client(stranger),
  });
  assert.equal(r.outcome.kind, 'tls-failed');
  assert.equal(r.tls?.clientCertSent, true);
  assert.match(
    find(r, 'tls.closed-during-handshake').detail,
    /Node\.js server \(rejectUnauthorized: true\) on TLS 1\.2/,
  );
  find(r, 'tls.ca-not-accepted');
});

test('Node https with requestCert but rejectUnauthorized false lets a stranger in: the CA finding is only a warning', async () => {
  const r = await probe({
    url: await serve({ ...strict, rejectUnauthorized: false }),
    cacertPem: root.certPem,
    client: client(stranger),
  });
  assert.equal(r.outcome.kind === 'http' && r.outcome.status, 200);
  assert.match(r.outcome.kind === 'http' ? r.outcome.body : '', /"authorized":false/);
  assert.equal(find(r, 'tls.ca-not-accepted').severity, 'warning');
  find(r, 'http.ok');
});

test('a TLS 1.3-only server: the request is encrypted, so it is "unknown", not "absent"', async () => {
  const r = await probe({
    url: await serve({ ...strict, minVersion: 'TLSv1.3' }),
    cacertPem: root.certPem,
    client: client(good),
  });
  assert.equal(r.outcome.kind === 'http' && r.outcome.status, 200);
  assert.equal(r.tls?.clientCertRequested, null);
  assert.equal(r.tls?.acceptableCAs, null);
  assert.match(r.tls?.certificateRequestProbe ?? '', /TLS 1\.3 only/);
  assert.ok(!ids(r).includes('tls.client-cert-not-requested'));
});

test('a server that does not ask for a certificate is not doing mTLS: the certificate is not sent', async () => {
  const r = await probe({ url: await serve({}), cacertPem: root.certPem, client: client(good) });
  assert.equal(r.tls?.clientCertRequested, false);
  assert.equal(r.tls?.clientCertSent, false);
  assert.equal(find(r, 'tls.client-cert-not-requested').severity, 'warning');
  assert.match(find(r, 'http.ok').title, /no client certificate was sent/);
});

test("the server's own certificate: untrusted, wrong name, expired; -k turns them into warnings", async () => {
  const url = await serve(strict);
  const untrusted = await probe({ url, client: client(good) });
  assert.equal(find(untrusted, 'server.untrusted').severity, 'error');
  assert.equal(untrusted.tls?.serverVerified, false);
  assert.equal(untrusted.tls?.serverError, 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY');
  assert.equal(
    untrusted.outcome.kind === 'http' && untrusted.outcome.status,
    200,
    'the probe goes on to diagnose the client side',
  );
  assert.equal(
    find(await probe({ url, client: client(good), insecure: true }), 'server.untrusted').severity,
    'warning',
  );

  const port = new URL(url).port;
  const wrongName = await probe({
    url: `https://127.0.0.2:${port}/`,
    resolve: [],
    connectTo: [`127.0.0.2:${port}:127.0.0.1:${port}`],
    cacertPem: root.certPem,
    client: client(good),
  });
  const nm = find(wrongName, 'server.name-mismatch');
  assert.deepEqual(nm.evidence['subjectAltNames'], ['DNS:localhost', 'IP:127.0.0.1']);
  assert.equal(wrongName.tls?.serverName, null, 'no SNI for an IP address');

  const expired = await probe({
    url: await serve(strict, undefined, expiredServer),
    cacertPem: root.certPem,
    client: client(good),
  });
  assert.match(find(expired, 'server.expired').title, /the server's certificate expired on/);
  assert.ok(!ids(expired).includes('server.untrusted'));
});

test('HTTP answers: a stated deny reason tied to the offline findings, a hidden one, and 421', async () => {
  const denied = await probe({
    url: await serve(strict, { status: 403, body: '{"message":"Access denied. Reason: certificate has expired"}' }),
    cacertPem: root.certPem,
    client: client(good),
  });
  const ad = find(denied, 'http.access-denied');
  assert.equal(ad.evidence['reason'], 'certificate has expired');
  assert.deepEqual(ad.evidence['codes'], ['CERT_HAS_EXPIRED']);
  assert.deepEqual(ad.evidence['explainedBy'], ['cert.expired', 'chain.ca-expired']);

  const issuer = await probe({
    url: await serve(strict, {
      status: 403,
      body: '{"message":"Access denied. Reason: Could not find issuer for certificate"}',
    }),
    cacertPem: root.certPem,
    client: client(good),
  });
  assert.deepEqual(find(issuer, 'http.access-denied').evidence['explainedBy'], [
    'chain.issuer-missing',
    'chain.root-missing',
    'chain.client-intermediates-ignored',
  ]);

  const hidden = await probe({
    url: await serve(strict, { status: 403, body: '{"message":"Forbidden"}' }),
    cacertPem: root.certPem,
    client: client(good),
  });
  assert.match(find(hidden, 'http.forbidden').fix, /exposeReason: true/);

  const misdirected = await probe({
    url: await serve(strict, { status: 421, body: '{"message":"Misdirected Request"}' }),
    cacertPem: root.certPem,
    client: client(good),
  });
  find(misdirected, 'http.misdirected');

  const notFound = await probe({
    url: await serve(strict, { status: 404, body: '{"message":"Not Found"}' }),
    cacertPem: root.certPem,
    client: client(good),
  });
  assert.equal(find(notFound, 'http.status').severity, 'warning');
});

test("a gateway's revocation denial: the server says revoked, or has no revocation status, and what to do", async () => {
  const answer = async (reason: string): Promise<ReturnType<typeof find>> => {
    const r = await probe({
      url: await serve(strict, { status: 403, body: JSON.stringify({ message: `Access denied. Reason: ${reason}` }) }),
      cacertPem: root.certPem,
      client: client(good),
    });
    return find(r, 'http.access-denied');
  };
  const revoked = await answer('certificate revoked');
  assert.match(revoked.title, /the server says the client certificate is revoked: "certificate revoked" \(HTTP 403\)/);
  assert.deepEqual(revoked.evidence['codes'], ['CERT_REVOKED']);
  assert.deepEqual(revoked.evidence['explainedBy'], ['revocation.revoked']);
  assert.match(revoked.fix, /issue a new certificate/);
  assert.match(revoked.fix, /--crl SERVER-CRL\.pem/);

  const cases = [
    ['unable to get certificate CRL', 'UNABLE_TO_GET_CRL', /publish a fresh CRL/],
    ['CRL has expired', 'CRL_HAS_EXPIRED', /publish a fresh CRL/],
    ['revocation status unavailable', 'MTLSGATE_REVOCATION_UNAVAILABLE', /OCSP responder reachable/],
  ] as const;
  for (const [reason, code, fix] of cases) {
    const f = await answer(reason);
    assert.match(f.title, /the server could not learn whether the client certificate is revoked/, reason);
    assert.ok((f.evidence['codes'] as string[]).includes(code), `${reason}: ${String(f.evidence['codes'])}`);
    assert.match(f.detail, /onUnavailable: deny/);
    assert.match(f.fix, fix);
    assert.match(f.fix, /onUnavailable: allow/);
  }
});

test('a certificate the TLS library refuses to load is reported, and the probe goes on without it', async () => {
  const r = await probe({
    url: await serve(strict),
    cacertPem: root.certPem,
    client: { chainPem: good.certPem, keyPem: stranger.keyPem },
  });
  const f = find(r, 'tls.client-cert-not-sent');
  assert.match(f.detail, /key values mismatch/);
  assert.equal(r.tls?.clientCertSent, false);
  assert.match(r.tls?.clientCertError ?? '', /ERR_OSSL_X509_KEY_VALUES_MISMATCH/);
  find(r, 'tls.client-cert-required');
});
