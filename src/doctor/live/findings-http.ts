/**
 * Findings for the HTTP answer: a stated deny reason, a hidden one, a misdirected request, or whatever else came back.
 */
import { finding, type Finding } from '../../report/finding.js';
import type { HttpResult } from './connect.js';
import { explainReason, printable, REVOCATION_CODES, statedReason, type ReasonExplanation } from './reasons.js';
import type { Target } from './target.js';

type Response = Extract<HttpResult, { kind: 'response' }>;

export interface HttpCheck {
  target: Target;
  clientCertSent: boolean;
  timeoutMs: number;
  maxBodyBytes: number;
}

/**
 * Did the server refuse the client certificate in this answer? (Used to tie the live result to the offline verdict.)
 */
export function refusesCertificate(r: { status: number; body: string }): { refused: boolean; reason: string | null } {
  const reason = statedReason(r.body);
  if (reason !== null) return { refused: true, reason };
  if (r.status === 403 && isForbidden(r.body)) return { refused: true, reason: null };
  const nginx = nginxCertError(r);
  if (nginx) return { refused: true, reason: nginx === 'missing' ? 'No required SSL certificate was sent' : null };
  return { refused: false, reason: null };
}

function isForbidden(body: string): boolean {
  try {
    return (JSON.parse(body) as { message?: unknown }).message === 'Forbidden';
  } catch {
    return false;
  }
}

/** nginx answers 400 with these pages when ssl_verify_client refuses or misses a certificate. */
function nginxCertError(r: { status: number; body: string }): 'missing' | 'invalid' | null {
  if (r.status !== 400) return null;
  if (/No required SSL certificate was sent/i.test(r.body)) return 'missing';
  if (/The SSL certificate error/i.test(r.body)) return 'invalid';
  return null;
}

export function httpFindings(c: HttpCheck, r: Response): Finding[] {
  const out: Finding[] = [];
  const t = c.target;
  const requestId = r.headers['x-request-id'] ?? r.headers['x-amzn-requestid'] ?? r.headers['apigw-requestid'] ?? null;
  const ev = {
    status: r.status,
    body: printable(r.body.replace(/\s+/g, ' ').trim().slice(0, 300)),
    requestId: requestId === null ? null : printable(requestId),
  };
  const reason = statedReason(r.body);
  const e = reason === null ? null : explainReason(reason);
  if (reason !== null && e !== null && e.codes.some((code) => REVOCATION_CODES.has(code))) {
    out.push(revocationDenial(r, reason, e, ev));
  } else if (reason !== null && e !== null) {
    out.push(
      finding({
        id: 'http.access-denied',
        severity: 'error',
        title: `the server refused the client certificate: "${reason}" (HTTP ${r.status})`,
        detail: `The gateway verified the certificate and said why it denies it. ${e.codes.length ? `This reason comes from ${e.codes.join(', ')}; ${e.findingIds.length ? `the offline checks that explain it: ${e.findingIds.join(', ')}.` : 'no file check explains it (it is about what was sent).'}` : 'mtlsgate does not know this reason text.'}`,
        fix: e.findingIds.length
          ? `mtlsgate doctor --url ${t.url} --cert client.crt --key client.key --truststore SERVER-TRUSTSTORE.pem   # explains it from the files`
          : reason === 'No required SSL certificate was sent'
            ? 'send the client certificate: --cert client.crt --key client.key'
            : '',
        evidence: { ...ev, reason, codes: e.codes, explainedBy: e.findingIds },
      }),
    );
  } else if (r.status === 403 && isForbidden(r.body)) {
    out.push(
      finding({
        id: 'http.forbidden',
        severity: 'error',
        title: 'the server answered 403 Forbidden and hides the reason',
        detail:
          `{"message":"Forbidden"} is what API Gateway and mtlsgate (without exposeReason) answer when they deny ` +
          `a client certificate; the reason is only in the gateway's ` +
          `log.${c.clientCertSent ? '' : ' No client certificate was sent.'}`,
        fix:
          `mtlsgate: set mutualTls.exposeReason: true for this domain, or read its log for "Access denied. Reason: ` +
          `..."${requestId ? ` with requestId ${requestId}` : ''}\nAPI Gateway: read the access log ` +
          `($context.error.message, $context.identity.clientCert); then run the doctor with the truststore: ` +
          `--truststore truststore.pem`,
        evidence: ev,
      }),
    );
  } else if (r.status === 421) {
    out.push(
      finding({
        id: 'http.misdirected',
        severity: 'error',
        title:
          'the server answered 421 Misdirected Request: the Host header and the TLS name disagree with its ' +
          'configuration',
        detail:
          `The request's Host (${t.hostHeader}) names a domain the server does not serve on this connection (the ` +
          `TLS server name was ${t.servername || 'not sent: the URL has an IP address'}). A gateway never lets one ` +
          `domain's certificate admit traffic for another.`,
        fix:
          `use the domain's own name in the URL (and --resolve NAME:${t.port}:ADDR to pick the address) so SNI and ` +
          `Host are the same configured name`,
        evidence: ev,
      }),
    );
  } else if (nginxCertError(r) === 'missing') {
    out.push(
      finding({
        id: 'http.no-certificate',
        severity: 'error',
        title: 'the server requires a client certificate and none was sent (HTTP 400)',
        detail:
          'nginx with ssl_verify_client on answers 400 "No required SSL certificate was sent" when the client ' +
          'sends no certificate.',
        fix: 'curl --cert client.crt --key client.key ...',
        evidence: ev,
      }),
    );
  } else if (nginxCertError(r) === 'invalid') {
    out.push(
      finding({
        id: 'http.certificate-error',
        severity: 'error',
        title: 'the server refused the client certificate (HTTP 400 "The SSL certificate error")',
        detail:
          'nginx answers this when the certificate fails verification against ssl_client_certificate (unknown ' +
          'issuer, expired, wrong purpose, ...) or, with ssl_crl, when it is revoked ("certificate revoked") or ' +
          'its issuer has no CRL there or only an expired one ("unable to get certificate CRL", "CRL has ' +
          'expired"). Its error log has the verify error: "client SSL certificate verify error: (N:text)".',
        fix:
          "read nginx's error log; check the certificate against the file nginx trusts (add --crl with the " +
          'ssl_crl file when nginx has one): mtlsgate doctor --cert client.crt --key client.key --truststore ' +
          'SSL_CLIENT_CERTIFICATE.pem --crl SSL_CRL.pem',
        evidence: ev,
      }),
    );
  } else if (r.status >= 400) {
    out.push(
      finding({
        id: 'http.status',
        severity: 'warning',
        title: `the server answered HTTP ${r.status}`,
        detail:
          `The TLS part went through${c.clientCertSent ? ' with the client certificate' : ''}; this answer is ` +
          `about the request itself (path, method, the backend).`,
        fix: '',
        evidence: ev,
      }),
    );
  } else {
    out.push(
      finding({
        id: 'http.ok',
        severity: 'info',
        title: `the server answered HTTP ${r.status}${c.clientCertSent ? ': the client certificate was accepted' : ' (no client certificate was sent)'}`,
        detail: '',
        fix: '',
        evidence: ev,
      }),
    );
  }
  if (r.truncated) {
    const why =
      r.truncatedBy === 'cap'
        ? `the body is longer than ${c.maxBodyBytes} bytes; the rest was not read`
        : r.truncatedBy === 'timeout'
          ? `the body did not end within ${Math.round(c.timeoutMs / 100) / 10} s`
          : 'the connection ended before the body did';
    out.push(
      finding({
        id: 'http.truncated',
        severity: 'info',
        title: `the response body was truncated: ${why}`,
        detail: 'Only its beginning is shown; the diagnosis does not need more.',
        fix: '',
        evidence: { kept: r.body.length, contentLength: r.headers['content-length'] ?? null },
      }),
    );
  }
  return out;
}

/** A stated revocation denial: the certificate is revoked, or the server could not learn its status. */
function revocationDenial(r: Response, reason: string, e: ReasonExplanation, ev: Finding['evidence']): Finding {
  const doctor =
    `mtlsgate doctor --cert client.crt --key client.key --truststore SERVER-TRUSTSTORE.pem --crl SERVER-CRL.pem   ` +
    `# the server's CRLs: which certificate, which CRL`;
  const evidence = { ...ev, reason, codes: e.codes, explainedBy: e.findingIds };
  if (e.codes.includes('CERT_REVOKED'))
    return finding({
      id: 'http.access-denied',
      severity: 'error',
      title: `the server says the client certificate is revoked: "${reason}" (HTTP ${r.status})`,
      detail:
        `The gateway checks revocation (mutualTls.revocation) and found the certificate, ` +
        `or a CA above it under scope chain, on its issuer's CRL (CERT_REVOKED). A revoked certificate stays ` +
        `revoked: the client needs a new certificate. The offline check that explains it: revocation.revoked.`,
      fix: `# issue a new certificate (new key, new serial) from the same CA and deploy it with its key
${doctor}`,
      evidence,
    });
  const ocsp = e.codes.includes('MTLSGATE_REVOCATION_UNAVAILABLE');
  return finding({
    id: 'http.access-denied',
    severity: 'error',
    title: `the server could not learn whether the client certificate is revoked: "${reason}" (HTTP ${r.status})`,
    detail:
      `The gateway checks revocation (mutualTls.revocation) and had no usable answer for the certificate ` +
      (ocsp
        ? '(its OCSP responder was unreachable, slow, said unknown or gave a bad answer)'
        : "(its issuer's CRL is missing, expired, not yet valid or refused)") +
      `, so it denies under onUnavailable: deny (${e.codes.join(', ')}). The certificate itself may be fine: ` +
      `this is the server's revocation data. ${e.findingIds.length ? `The offline checks that explain it: ${e.findingIds.join(', ')}.` : ''}`,
    fix:
      (ocsp
        ? "the gateway's operator: make the OCSP responder reachable (its log line names it and why)"
        : "the gateway's operator: publish a fresh CRL of the certificate's issuer where " +
          'mutualTls.revocation.crl.sources reads it (its log names the CA and why)') +
      `; or set onUnavailable: allow to let such certificates through
${ocsp ? '' : doctor}`,
    evidence,
  });
}

export function httpFailureFinding(c: HttpCheck, kind: 'timeout' | 'bad-response', error: string): Finding {
  const t = c.target;
  if (kind === 'timeout') {
    return finding({
      id: 'http.timeout',
      severity: 'error',
      title: `the handshake finished but no HTTP answer came within ${Math.round(c.timeoutMs / 100) / 10} s`,
      detail:
        'The server accepted the TLS connection and the request, then said nothing: a backend that does not ' +
        'answer, or a server waiting for something else. curl would end with "(28) Operation timed out".',
      fix: `curl -v --max-time 30 https://${t.hostHeader}${t.path} ...   # does it answer with more time?`,
    });
  }
  return finding({
    id: 'http.bad-response',
    severity: 'error',
    title: "the server's answer after the handshake is not HTTP/1.1",
    detail: `${error}. Something other than an HTTP server speaks on this port behind TLS.`,
    fix: `openssl s_client -connect ${t.connectHost}:${t.connectPort} -servername ${t.host} -quiet`,
    evidence: { error },
  });
}
