/**
 * Findings for the stages before HTTP: name resolution, TCP, the TLS handshake and what the server did right after it.
 */
import { finding, type Finding } from '../../report/finding.js';
import { alertName, CERT_REJECT_ALERTS } from './alerts.js';
import type { CertRequestProbe } from './cert-request.js';
import type { TcpResult, TlsFailed } from './connect.js';
import type { Resolved, Target } from './target.js';

const secs = (ms: number): string => `${Math.round(ms / 100) / 10} s`;
const where = (t: Target): string => `${t.connectHost}:${t.connectPort}`;

export function dnsFinding(t: Target, r: Extract<Resolved, { ok: false }>, timeoutMs: number): Finding {
  const ev = { host: t.connectHost, code: r.code, error: r.error };
  if (r.timeout) {
    return finding({
      id: 'dns.timeout',
      severity: 'error',
      title: `no DNS answer for ${t.connectHost} within ${secs(timeoutMs)}`,
      detail:
        'The resolver did not answer in time: a DNS server is unreachable or slow. curl would fail with "(28) ' +
        'Resolving timed out" or "(6) Could not resolve host".',
      fix:
        `getent hosts ${t.connectHost}; cat /etc/resolv.conf\n# for a test, pin the address: mtlsgate doctor ` +
        `--resolve ${t.connectHost}:${t.connectPort}:ADDR ... (curl --resolve ${t.connectHost}:${t.connectPort}:ADDR)`,
      evidence: ev,
    });
  }
  return finding({
    id: 'dns.unresolvable',
    severity: 'error',
    title: `${t.connectHost} does not resolve (${r.code})`,
    detail:
      `There is no address for this name: a typo, a record that was never created or not yet propagated, or a ` +
      `name only an internal resolver knows. curl says "curl: (6) Could not resolve host: ${t.connectHost}". Nothing ` +
      `was sent to any server.`,
    fix:
      `check the domain's DNS record: dig +short ${t.connectHost}   (for API Gateway: the custom domain's A/ALIAS ` +
      `or CNAME record)\n# or, for a test, give the address yourself: curl ` +
      `--resolve ${t.connectHost}:${t.connectPort}:ADDR ...  /  mtlsgate doctor ` +
      `--resolve ${t.connectHost}:${t.connectPort}:ADDR ...`,
    evidence: ev,
  });
}

export function tcpFinding(t: Target, attempts: TcpResult[], timeoutMs: number): Finding {
  const failed = attempts.filter((a): a is Extract<TcpResult, { ok: false }> => !a.ok);
  const last = failed[failed.length - 1];
  const ev = { target: where(t), tried: failed.map((a) => `${a.address}: ${a.code}`) };
  if (!last || last.timeout) {
    return finding({
      id: 'tcp.timeout',
      severity: 'error',
      title: `no TCP answer from ${where(t)} within ${secs(timeoutMs)}`,
      detail:
        'Packets to this address and port go unanswered: a firewall or security group drops them, the address ' +
        'is wrong, or the host is down. curl says "(28) Connection timed out" or "(7) Failed to connect".',
      fix:
        `nc -vz -w 5 ${t.connectHost} ${t.connectPort}   # from the same machine\n# check security groups / ` +
        `firewall rules for port ${t.connectPort}, and that the address is the server's`,
      evidence: ev,
    });
  }
  if (last.code === 'ECONNREFUSED') {
    return finding({
      id: 'tcp.refused',
      severity: 'error',
      title: `${where(t)} refused the connection`,
      detail:
        `The host answered, but nothing listens on port ${t.connectPort} (or a firewall rejects it). curl says ` +
        `"curl: (7) Failed to connect to ${t.connectHost} port ${t.connectPort}: Connection refused".`,
      fix:
        `check that the server runs and listens on ${t.connectPort}: ss -ltnp | grep :${t.connectPort}   (on the ` +
        `server)\n# wrong port in the URL? HTTPS is usually 443`,
      evidence: ev,
    });
  }
  return finding({
    id: 'tcp.unreachable',
    severity: 'error',
    title: `cannot connect to ${where(t)}: ${last.code}`,
    detail:
      `${last.error}. The network has no route to this address, or it is not usable from here. curl says "(7) ` +
      `Failed to connect".`,
    fix: `ping -c1 ${last.address}; ip route get ${last.address}`,
    evidence: ev,
  });
}

export interface HandshakeContext {
  target: Target;
  raw: CertRequestProbe;
  clientCertSent: boolean;
  timeoutMs: number;
}

/** The handshake did not finish: the alert the server sent, or how it failed. */
export function handshakeFinding(c: HandshakeContext, f: TlsFailed): Finding {
  const t = c.target;
  const ev: Finding['evidence'] = {
    code: f.code,
    error: f.error,
    alert: f.alert === null ? null : `${f.alert} ${alertName(f.alert)}`,
    clientCertificateSent: c.clientCertSent,
  };
  if (c.raw.result === 'not-tls' || /WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|HTTP_REQUEST/.test(f.code))
    return notTls(c, ev);
  if (f.timeout) {
    return finding({
      id: 'tls.timeout',
      severity: 'error',
      title: `${where(t)} accepted the TCP connection but did not answer the TLS handshake within ${secs(c.timeoutMs)}`,
      detail:
        'The port is open but the server never sent its TLS hello: it may be a service that waits for the ' +
        'client to speak another protocol, a proxy that cannot reach its backend, or an overloaded server. curl ' +
        'would hang, then "(28) Operation timed out".',
      fix:
        `openssl s_client -connect ${t.connectHost}:${t.connectPort} -servername ${t.host} </dev/null   # does ` +
        `anything come back?`,
      evidence: ev,
    });
  }
  if (f.alert !== null) return alertFinding(c, f.alert, ev, false);
  if (f.code === 'ECONNRESET' && /^read ECONNRESET/.test(f.error)) {
    return finding({
      id: 'tls.reset',
      severity: 'error',
      title: `${where(t)} reset the connection during the TLS handshake`,
      detail: `The server (or something in front of it) aborted the connection with a TCP reset before the handshake finished. curl says "(35) Recv failure: Connection reset by peer" or "OpenSSL SSL_connect: SSL_ERROR_SYSCALL". ${c.clientCertSent ? 'A certificate was sent: some servers reset instead of sending an alert when they refuse it.' : 'Often the server requires a client certificate and none was sent, or a firewall/IPS cuts TLS to this port.'}`,
      fix:
        `openssl s_client -connect ${t.connectHost}:${t.connectPort} -servername ${t.host} -cert CLIENT.crt -key ` +
        `CLIENT.key </dev/null\n# then read the server's log at this time for the reason`,
      evidence: ev,
    });
  }
  if (f.code === 'ECONNRESET') {
    const silent = c.raw.result === 'closed' && c.raw.bytesReceived === 0;
    const why = silent
      ? `It hung up right after our ClientHello, before sending anything: the server does not serve the name "${t.servername || '(no SNI: the URL has an IP address)'}" (a gateway picks its certificate by SNI and drops unknown names), or it refuses TLS from this client.`
      : c.clientCertSent
        ? "It closed after receiving our certificate, without a TLS alert: a Node.js server (rejectUnauthorized: true) on TLS 1.2 refuses a client certificate this way. The reason is only in the server's log."
        : "It gave no TLS alert, so the reason is only in the server's log.";
    return finding({
      id: 'tls.closed-during-handshake',
      severity: 'error',
      title: `${where(t)} closed the connection during the TLS handshake`,
      detail: `${why} curl says "(35) OpenSSL SSL_connect: SSL_ERROR_SYSCALL" or "Connection reset by peer".`,
      fix: silent
        ? `check the name: the URL's host is sent as SNI (${t.host}); with an IP address or a wrong name use --resolve ${t.host}:${t.port}:ADDR with the right name\nopenssl s_client -connect ${t.connectHost}:${t.connectPort} -servername ${t.host} </dev/null`
        : "read the server's log at this time; then run the doctor offline on the same files with the server's truststore (--truststore)",
      evidence: { ...ev, serverName: t.servername || null, bytesFromServerBeforeClose: c.raw.bytesReceived },
    });
  }
  return finding({
    id: 'tls.handshake-failed',
    severity: 'error',
    title: `the TLS handshake with ${where(t)} failed: ${f.error}`,
    detail:
      'OpenSSL on this side gave up the handshake. The code names the reason (e.g. no common cipher or TLS ' +
      'version, a malformed answer).',
    fix: `openssl s_client -connect ${t.connectHost}:${t.connectPort} -servername ${t.host} -state </dev/null`,
    evidence: ev,
  });
}

function notTls(c: HandshakeContext, ev: Finding['evidence']): Finding {
  const t = c.target;
  const http = c.raw.notTls === 'http' || /HTTP_REQUEST/.test(String(ev['code']));
  return finding({
    id: 'tls.not-tls',
    severity: 'error',
    title: http ? `${where(t)} speaks plain HTTP, not HTTPS` : `${where(t)} does not speak TLS`,
    detail: http
      ? `The server answered our TLS ClientHello with an HTTP response: the port speaks plain HTTP. curl says "(35) OpenSSL ... wrong version number". Either the URL has the wrong port, or TLS terminates elsewhere (a load balancer in front, another port).`
      : 'The bytes that came back are not a TLS record: another protocol listens on this port. curl says "(35) ... wrong version number" or "packet length too long".',
    fix: http
      ? `use the HTTPS port (usually 443; the gateway's listen.port), e.g. https://${t.host}:443${t.path}\ncurl -v http://${t.hostHeader}${t.path}   # what answers here`
      : `openssl s_client -connect ${t.connectHost}:${t.connectPort} </dev/null; nc ${t.connectHost} ${t.connectPort} </dev/null | head -c 200 | od -c`,
    evidence: { ...ev, answer: c.raw.preview },
  });
}

/**
 * An alert from the server, during the handshake or right after it (TLS 1.3 servers judge the certificate after their
 * Finished).
 */
export function alertFinding(
  c: HandshakeContext,
  alert: number,
  ev: Finding['evidence'],
  afterHandshake: boolean,
): Finding {
  const t = c.target;
  const name = alertName(alert);
  const when = afterHandshake ? 'right after the handshake' : 'during the handshake';
  if (t.servername === '' && !afterHandshake && (alert === 40 || alert === 112 || alert === 80)) {
    return finding({
      id: 'tls.no-server-name',
      severity: 'error',
      title:
        `the URL has an IP address, so no TLS server name was sent, and the server refused the handshake ` +
        `(alert ${alert} ${name})`,
      detail:
        'A server that picks its certificate by name (SNI) — mtlsgate, API Gateway, most load balancers and ' +
        'CDNs — has nothing to offer a client that sends no name. curl says "(35) ... alert handshake failure".',
      fix:
        `use the domain name in the URL and give the address separately: --resolve ` +
        `NAME:${t.port}:${t.connectHost}   (curl --resolve works the same)`,
      evidence: { ...ev, serverName: null },
    });
  }
  if (alert === 116 || (alert === 40 && !c.clientCertSent && c.raw.requested === true)) {
    return finding({
      id: 'tls.client-cert-required',
      severity: 'error',
      title: `the server requires a client certificate and none was sent (alert ${alert} ${name})`,
      detail:
        `The server asked for a client certificate and ended the connection ${when} because none came. curl ` +
        `says "(56) ... alert certificate required" (TLS 1.3) or "(35) ... alert handshake failure" (TLS ` +
        `1.2). ${c.clientCertSent ? '' : 'Give the client its certificate and key.'}`,
      fix:
        `curl --cert client.crt --key client.key https://${t.hostHeader}${t.path}\nmtlsgate doctor --url ${t.url} ` +
        `--cert client.crt --key client.key`,
      evidence: ev,
    });
  }
  if (CERT_REJECT_ALERTS.has(alert) && c.clientCertSent) {
    return finding({
      id: 'tls.client-cert-rejected',
      severity: 'error',
      title: `the server rejected the client certificate with alert ${alert} ${name}`,
      detail:
        `${REJECT_HINT[alert] ?? 'The server refused the certificate.'} The alert came ${when}; the exact ` +
        `verify error is in the server's log.`,
      fix:
        `compare the server's trusted CAs with your chain: mtlsgate doctor --cert client.crt --key client.key ` +
        `--truststore SERVER-TRUSTSTORE.pem`,
      evidence: ev,
    });
  }
  if (alert === 112) {
    return finding({
      id: 'tls.unrecognized-name',
      severity: 'error',
      title: `the server does not serve the name ${t.host} (alert 112 unrecognized_name)`,
      detail:
        "The TLS server name (SNI) is the URL's host; this server has no certificate for it. With an IP " +
        'address in the URL no name is sent at all.',
      fix:
        `use the name the server is configured for; to reach it at another address: --resolve ` +
        `NAME:${t.port}:${t.connectHost}`,
      evidence: ev,
    });
  }
  if (alert === 70 || alert === 71) {
    return finding({
      id: 'tls.protocol-version',
      severity: 'error',
      title: `no TLS version or security level both sides accept (alert ${alert} ${name})`,
      detail:
        'The server refused every TLS version this client offers (Node/OpenSSL 3: TLS 1.2 and 1.3), or demands ' +
        'a higher security level.',
      fix:
        `openssl s_client -connect ${t.connectHost}:${t.connectPort} -servername ${t.host} -tls1_2 </dev/null; ` +
        `... -tls1_3`,
      evidence: ev,
    });
  }
  return finding({
    id: 'tls.alert',
    severity: 'error',
    title: `the server ended the handshake with alert ${alert} ${name}`,
    detail: `The server sent a fatal TLS alert ${when}.${c.clientCertSent ? " A client certificate was sent; the server's log says what it disliked." : ''}`,
    fix: `openssl s_client -connect ${t.connectHost}:${t.connectPort} -servername ${t.host} -state </dev/null`,
    evidence: ev,
  });
}

const REJECT_HINT: Readonly<Record<number, string>> = {
  42: 'bad_certificate: the server could not use the certificate (a broken signature, or a key usage/purpose it refuses).',
  43: "unsupported_certificate: the certificate's type or key is not one the server accepts.",
  44: 'certificate_revoked: the issuer revoked this certificate (CRL/OCSP).',
  45: 'certificate_expired: the client certificate, or a CA on its path, is expired or not yet valid.',
  46: 'certificate_unknown: the server refused the certificate for an unspecified reason (often a purpose or policy check).',
  48: 'unknown_ca: the server does not trust the CA that issued the client certificate (its truststore lacks the issuer or the root).',
  49: "access_denied: the certificate verified, but the server's policy does not admit this client.",
};

/** The handshake finished, then the server closed without a word (no alert, no HTTP). */
export function closedAfterHandshake(c: HandshakeContext, code: string, error: string): Finding {
  const t = c.target;
  const ev = { code, error, clientCertificateSent: c.clientCertSent };
  if (!c.clientCertSent) {
    return finding({
      id: 'tls.closed-after-handshake',
      severity: 'error',
      title: 'the server closed the connection right after the handshake: no client certificate was sent',
      detail:
        'The handshake finished, then the server hung up without an HTTP answer and without a TLS alert. This ' +
        'is how mtlsgate (noCertificate: handshake), API Gateway and many Node.js servers refuse a client that sends ' +
        'no certificate. curl says "(56) Recv failure: Connection reset by peer" or "(35) SSL_ERROR_SYSCALL".',
      fix:
        `send the client certificate: curl --cert client.crt --key client.key ` +
        `https://${t.hostHeader}${t.path}\nmtlsgate doctor --url ${t.url} --cert client.crt --key client.key ` +
        `--truststore truststore.pem`,
      evidence: ev,
    });
  }
  return finding({
    id: 'tls.closed-after-handshake',
    severity: 'error',
    title:
      'the server closed the connection right after the handshake: the client certificate was rejected without ' +
      'an alert',
    detail:
      'The certificate was sent and the handshake finished, then the server hung up without an HTTP answer. A ' +
      'Node.js server with rejectUnauthorized: true (and many proxies) refuses a client certificate this way, ' +
      'sending no TLS alert; the reason is only in its log. curl says "(56) Recv failure: Connection reset by peer".',
    fix:
      "read the server's log for this connection; run the doctor with the server's truststore to see why: " +
      'mtlsgate doctor --url ... --cert client.crt --key client.key --truststore SERVER-TRUSTSTORE.pem',
    evidence: ev,
  });
}
