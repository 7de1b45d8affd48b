/**
 * The live probe: what a client meets on the way to an HTTPS endpoint — DNS, TCP, TLS (the server's chain, whether
 * it asks for a client certificate and from which CAs), then one GET — and a finding for every stop on the way.
 * Bounded by one deadline (default 10 s) from start to end; faults end as findings, never as exceptions. Only a
 * bad URL or option (not https, a malformed --resolve) throws, as a UserError.
 */
import tls, { type SecureContext } from 'node:tls';
import { parseCert } from '../../pki/cert.js';
import { parsePem } from '../../pki/pem.js';
import type { CertInfo } from '../../pki/types.js';
import { sortFindings, type Finding } from '../../report/finding.js';
import { alertName } from './alerts.js';
import { probeCertificateRequest, type CertRequestProbe } from './cert-request.js';
import { connectTcp, exchange, handshake, type HttpResult } from './connect.js';
import {
  alertFinding,
  closedAfterHandshake,
  dnsFinding,
  handshakeFinding,
  tcpFinding,
  type HandshakeContext,
} from './findings-conn.js';
import { clientRequestFindings, serverFindings } from './findings-cert.js';
import { httpFailureFinding, httpFindings, refusesCertificate, type HttpCheck } from './findings-http.js';
import { DEFAULT_TIMEOUT_MS, parseTarget, resolveTarget, type Target } from './target.js';

import type { ProbeInput, ProbeOutcome, ProbeReport } from './types.js';

export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;

export async function probe(input: ProbeInput): Promise<ProbeReport> {
  const started = Date.now();
  const timeoutMs = input.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxBodyBytes = input.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const deadline = started + timeoutMs;
  const target = parseTarget(input.url, input.resolve ?? [], input.connectTo ?? []);
  const timings: Record<string, number> = {};
  const lap = (name: string, from: number): number => (timings[name] = Date.now() - from);
  const base = {
    url: target.url,
    addresses: [] as string[],
    connectedTo: null as string | null,
    applied: target.applied,
    tls: null as ProbeReport['tls'],
    timings,
  };
  const done = (r: Pick<ProbeReport, 'outcome' | 'findings'> & Partial<ProbeReport>): ProbeReport => {
    timings['total'] = Date.now() - started;
    return { ...base, ...r, findings: sortFindings(r.findings) };
  };

  let t = Date.now();
  const resolved = await resolveTarget(target, deadline - t);
  lap('dns', t);
  if (!resolved.ok) {
    return done({
      outcome: resolved.timeout ? { kind: 'timeout', stage: 'dns' } : { kind: 'dns-failed', error: resolved.error },
      findings: [dnsFinding(target, resolved, timeoutMs)],
    });
  }
  base.addresses = resolved.addresses;

  t = Date.now();
  const tcp = await connectTcp(resolved.addresses, target.connectPort, deadline);
  lap('tcp', t);
  if (!tcp.socket) {
    const last = tcp.attempts[tcp.attempts.length - 1];
    const outcome: ProbeOutcome =
      !last || (!last.ok && last.timeout)
        ? { kind: 'timeout', stage: 'tcp' }
        : { kind: 'tcp-failed', code: last.ok ? 'ERROR' : last.code, error: last.ok ? '' : last.error };
    return done({ outcome, findings: [tcpFinding(target, tcp.attempts, timeoutMs)] });
  }
  const address = tcp.attempts[tcp.attempts.length - 1]!.address;
  base.connectedTo = `${address}:${target.connectPort}`;

  const client = clientContext(input);
  // The CertificateRequest is read on a second connection of our own, at the same time.
  const rawPromise = probeCertificateRequest({
    host: address,
    port: target.connectPort,
    servername: target.servername,
    timeoutMs: Math.max(1, deadline - Date.now()),
  });
  t = Date.now();
  const hs = client.context
    ? await handshake(tcp.socket, {
        host: target.host,
        servername: target.servername,
        context: client.context,
        deadline,
      })
    : { ok: false as const, code: client.code, error: client.error ?? '', alert: null, timeout: false };
  lap('tls', t);
  let after: HttpResult | null = null;
  if (hs.ok) {
    t = Date.now();
    after = await exchange(hs.socket, { path: target.path, hostHeader: target.hostHeader, deadline, maxBodyBytes });
    lap('http', t);
  } else {
    tcp.socket.destroy();
  }
  const raw = await rawPromise;

  let requested = raw.requested;
  if (after?.kind === 'alert' && after.alert === 116) requested = true;
  if (!hs.ok && hs.alert === 116) requested = true;
  const clientCertSent = client.loaded && requested !== false && !(!hs.ok && hs.timeout) && raw.result !== 'not-tls';
  const hctx: HandshakeContext = { target, raw, clientCertSent, timeoutMs };
  const httpCtx: HttpCheck = { target, clientCertSent, timeoutMs, maxBodyBytes };
  const chain = hs.ok ? certInfos(hs.chainDer) : certInfos(raw.serverCertsDer);
  const findings: Finding[] = [];
  let outcome: ProbeOutcome;
  let serverAccepted = false;
  if (!hs.ok) {
    outcome = hs.timeout
      ? { kind: 'timeout', stage: 'tls' }
      : {
          kind: 'tls-failed',
          error: hs.error,
          code: hs.code,
          alert: hs.alert === null ? null : alertName(hs.alert),
          afterHandshake: false,
        };
    findings.push(
      client.context ? handshakeFinding(hctx, hs) : handshakeFinding({ ...hctx, raw: { ...raw, result: 'error' } }, hs),
    );
  } else {
    findings.push(
      ...serverFindings({
        target,
        chain,
        authorizationError: hs.authorizationError,
        identityError: hs.identityError,
        insecure: input.insecure === true,
        cacertGiven: input.cacertPem !== undefined,
        now: new Date(),
      }),
    );
    ({ outcome, serverAccepted } = afterHandshake(after!, hctx, httpCtx, findings));
  }
  findings.push(
    ...clientRequestFindings({
      target,
      raw,
      requested,
      clientChain: client.chain,
      clientLoadError: client.loadError,
      serverAccepted,
    }),
  );

  return done({
    outcome,
    findings,
    tls: {
      version: hs.ok ? hs.version : null,
      cipher: hs.ok ? hs.cipher : null,
      serverChain: chain,
      serverVerified: hs.ok && hs.authorizationError === null && hs.identityError === null,
      serverError: hs.ok ? (hs.authorizationError ?? hs.identityError) : null,
      clientCertRequested: requested,
      acceptableCAs: raw.acceptableCAs,
      clientCertSent,
      serverName: target.servername || null,
      certificateRequestProbe: describeRaw(raw),
      clientCertError: client.loadError,
    },
  });
}

function afterHandshake(
  after: HttpResult,
  hctx: HandshakeContext,
  httpCtx: HttpCheck,
  findings: Finding[],
): { outcome: ProbeOutcome; serverAccepted: boolean } {
  switch (after.kind) {
    case 'response': {
      findings.push(...httpFindings(httpCtx, after));
      const { status, headers, body, truncated, truncatedBy } = after;
      return {
        outcome: { kind: 'http', status, headers, body, truncated, truncatedBy },
        serverAccepted: !refusesCertificate(after).refused,
      };
    }
    case 'closed':
      findings.push(closedAfterHandshake(hctx, after.code, after.error));
      return { outcome: { kind: 'closed-after-handshake' }, serverAccepted: false };
    case 'alert':
      findings.push(
        alertFinding(
          hctx,
          after.alert,
          {
            code: after.code,
            error: after.error,
            alert: `${after.alert} ${alertName(after.alert)}`,
            clientCertificateSent: hctx.clientCertSent,
          },
          true,
        ),
      );
      return {
        outcome: {
          kind: 'tls-failed',
          error: after.error,
          code: after.code,
          alert: alertName(after.alert),
          afterHandshake: true,
        },
        serverAccepted: false,
      };
    case 'bad-response':
      findings.push(httpFailureFinding(httpCtx, 'bad-response', after.error));
      return {
        outcome: { kind: 'tls-failed', error: after.error, code: after.code, alert: null, afterHandshake: true },
        serverAccepted: false,
      };
    case 'timeout':
      findings.push(httpFailureFinding(httpCtx, 'timeout', ''));
      return { outcome: { kind: 'timeout', stage: 'http' }, serverAccepted: false };
  }
}

interface ClientContext {
  context: SecureContext | null;
  loaded: boolean;
  loadError: string | null;
  chain: CertInfo[];
  code: string;
  error: string | null;
}

/** Codes of OpenSSL refusing a certificate for its security level (algorithms, key size), not for its content. */
const SECLEVEL_REFUSALS = new Set(['ERR_SSL_CA_MD_TOO_WEAK', 'ERR_SSL_EE_KEY_TOO_SMALL', 'ERR_SSL_CA_KEY_TOO_SMALL']);

/** The TLS context: the CAs to verify the server with, and the client certificate when the TLS library takes it. */
function clientContext(input: ProbeInput): ClientContext {
  const ca = input.cacertPem !== undefined ? { ca: input.cacertPem } : {};
  const chain = input.client ? certInfos(certificateDers(input.client.chainPem)) : [];
  let loadError: string | null = null;
  if (input.client) {
    const withCert = { ...ca, cert: input.client.chainPem, key: input.client.keyPem };
    try {
      return {
        context: tls.createSecureContext(withCert),
        loaded: true,
        loadError: null,
        chain,
        code: '',
        error: null,
      };
    } catch (e) {
      loadError = `${(e as NodeJS.ErrnoException).code ?? 'ERROR'}: ${(e as Error).message}`;
      // Node's security level refuses a SHA-1/MD5-signed certificate or a small key before connecting; the server
      // is the one to judge it (as in the offline loopback handshake), so send it at level 0. The client-side
      // refusal is reported by the offline checks (cert.refused-by-client-tls; curl.client-cert-refused-locally).
      if (SECLEVEL_REFUSALS.has((e as NodeJS.ErrnoException).code ?? '')) {
        try {
          return {
            context: tls.createSecureContext({ ...withCert, ciphers: 'DEFAULT@SECLEVEL=0' }),
            loaded: true,
            loadError: null,
            chain,
            code: '',
            error: null,
          };
        } catch {
          // refused at level 0 too: go on without it, with the first error
        }
      }
    }
  }
  try {
    return { context: tls.createSecureContext(ca), loaded: false, loadError, chain, code: '', error: null };
  } catch (e) {
    return {
      context: null,
      loaded: false,
      loadError,
      chain,
      code: (e as NodeJS.ErrnoException).code ?? 'ERROR',
      error: `the CA certificates to verify the server with (--cacert) cannot be used: ${(e as Error).message}`,
    };
  }
}

function certificateDers(pem: string): Buffer[] {
  return parsePem(pem)
    .blocks.filter((b) => b.label === 'CERTIFICATE')
    .map((b) => b.body);
}

function certInfos(ders: readonly Buffer[]): CertInfo[] {
  const out: CertInfo[] = [];
  for (const der of ders) {
    try {
      out.push(parseCert(der).info);
    } catch {
      // a certificate our parser cannot read is left out of the report; OpenSSL's verdict still stands
    }
  }
  return out;
}

function describeRaw(r: CertRequestProbe): string {
  switch (r.result) {
    case 'certificate-request':
      return `TLS 1.2: CertificateRequest with ${r.acceptableCAs?.length ?? 0} CA name(s)`;
    case 'no-certificate-request':
      return 'TLS 1.2: no CertificateRequest';
    case 'tls13-only':
      return 'TLS 1.3 only: the CertificateRequest is encrypted and cannot be read';
    case 'alert':
      return `TLS 1.2: alert ${r.alert?.description ?? '?'} ${r.alert?.name ?? ''}`.trim();
    case 'not-tls':
      return `not TLS: ${r.preview ?? ''}`;
    default:
      return `${r.result}: ${r.error ?? ''}`;
  }
}

export type { Target };
