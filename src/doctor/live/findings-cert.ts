/** Findings about certificates on the wire: the server's chain, and the client certificate the server asks for. */
import type { CertInfo } from '../../pki/types.js';
import { finding, type Finding } from '../../report/finding.js';
import { firstItems, titleText } from '../../report/text.js';
import type { CertRequestProbe } from './cert-request.js';
import type { Target } from './target.js';

export interface ServerCheck {
  target: Target;
  chain: CertInfo[];
  /** Node's code for OpenSSL's verdict on the chain; null when it verified. */
  authorizationError: string | null;
  identityError: string | null;
  insecure: boolean;
  cacertGiven: boolean;
  now: Date;
}

const UNTRUSTED_WHY: Readonly<Record<string, string>> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: "The server's certificate is self-signed.",
  SELF_SIGNED_CERT_IN_CHAIN: "The server's chain ends at a root CA that is not among the CAs trusted here.",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    "The CA that issued the server's certificate is not trusted here (or the server does not send its intermediate CA).",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    "The issuer of the server's certificate is unknown here: the server sends only its own certificate and the issuing CA is not trusted.",
  UNABLE_TO_GET_ISSUER_CERT: "The root above the server's intermediate CA is not trusted here.",
};

export function serverFindings(s: ServerCheck): Finding[] {
  const out: Finding[] = [];
  const sev = s.insecure ? 'warning' : 'error';
  const leaf = s.chain[0];
  const t = s.target;
  const insecureNote = s.insecure ? ' (--insecure: reported, not enforced; curl -k would go on too)' : '';
  const chainEv = { serverChain: s.chain.map((c) => `${c.subject}  (issuer: ${c.issuer})`) };
  const expired = s.chain.find(
    (c) => Date.parse(c.notAfter) < s.now.getTime() || Date.parse(c.notBefore) > s.now.getTime(),
  );
  if (expired || s.authorizationError === 'CERT_HAS_EXPIRED' || s.authorizationError === 'CERT_NOT_YET_VALID') {
    const c = expired ?? leaf;
    const isLeaf = c === leaf;
    const notYet = c !== undefined && Date.parse(c.notBefore) > s.now.getTime();
    out.push(
      finding({
        id: 'server.expired',
        severity: sev,
        title: `the server's ${isLeaf ? 'certificate' : `CA certificate "${titleText(c?.subject ?? '?')}"`} ${notYet ? `is not valid until ${c?.notBefore}` : `expired on ${c?.notAfter ?? '?'}`}${insecureNote}`,
        detail:
          `Clients refuse an expired server certificate: curl says "(60) SSL certificate problem: certificate ` +
          `has expired". This is the server's certificate, not the client's: the server's operator must renew it.`,
        fix: 'renew the server certificate (and deploy it with its chain); check the clock on this machine too: date -u',
        evidence: {
          ...chainEv,
          subject: c?.subject ?? null,
          notBefore: c?.notBefore ?? null,
          notAfter: c?.notAfter ?? null,
        },
      }),
    );
  }
  if (
    s.authorizationError !== null &&
    s.authorizationError !== 'CERT_HAS_EXPIRED' &&
    s.authorizationError !== 'CERT_NOT_YET_VALID'
  ) {
    const why = UNTRUSTED_WHY[s.authorizationError] ?? `OpenSSL: ${s.authorizationError}.`;
    const top = s.chain[s.chain.length - 1];
    out.push(
      finding({
        id: 'server.untrusted',
        severity: sev,
        title:
          `the server's certificate does not verify ` +
          `against ${s.cacertGiven ? 'the --cacert CAs' : "the system's default CAs"} ` +
          `(${s.authorizationError})${insecureNote}`,
        detail:
          `${why} curl says "(60) SSL certificate problem: ${curlText(s.authorizationError)}". A private server ` +
          `CA must be given to the client.`,
        fix: s.cacertGiven
          ? `check that --cacert holds the CA that issued the server's certificate ("${leaf?.issuer ?? '?'}") and the root above it ("${top?.issuer ?? '?'}")\nopenssl s_client -connect ${t.connectHost}:${t.connectPort} -servername ${t.host} -showcerts </dev/null`
          : `pass the server's CA: curl --cacert SERVER-CA.pem ...  /  mtlsgate doctor --url ${t.url} --cacert SERVER-CA.pem ...\n# (the CA that issued "${leaf?.subject ?? '?'}" is "${leaf?.issuer ?? '?'}")`,
        evidence: { ...chainEv, code: s.authorizationError },
      }),
    );
  }
  if (s.identityError !== null) {
    out.push(
      finding({
        id: 'server.name-mismatch',
        severity: sev,
        title: `the server's certificate is not for ${t.host}${insecureNote}`,
        detail:
          `${s.identityError}. curl says "(60) SSL: no alternative certificate subject name matches target host ` +
          `name '${t.host}'". Either the URL's name is not the one the server is configured for (an IP address, an ` +
          `internal name, a --resolve to the wrong server), or the server presents another domain's certificate.`,
        fix:
          `use a name from the certificate's subject alternative names in the URL; to reach a given address with ` +
          `that name: --resolve NAME:${t.port}:${t.connectHost}`,
        evidence: { host: t.host, subjectAltNames: leaf?.subjectAltNames ?? [], subject: leaf?.subject ?? null },
      }),
    );
  }
  return out;
}

function curlText(code: string): string {
  switch (code) {
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
      return 'self-signed certificate';
    case 'SELF_SIGNED_CERT_IN_CHAIN':
      return 'self-signed certificate in certificate chain';
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
      return 'unable to get local issuer certificate';
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
      return 'unable to verify the first certificate';
    default:
      return code.toLowerCase().replace(/_/g, ' ');
  }
}

export interface ClientRequestCheck {
  target: Target;
  raw: CertRequestProbe;
  /** Whether the server asked for a certificate, from the raw probe and the real handshake together. */
  requested: boolean | null;
  /** The client chain we hold (leaf first), or empty when none was given. */
  clientChain: CertInfo[];
  /** Why the TLS library refused the client certificate (it was then not sent), or null. */
  clientLoadError: string | null;
  /** The server let the request through (an HTTP answer that is not a certificate refusal). */
  serverAccepted: boolean;
}

export function clientRequestFindings(c: ClientRequestCheck): Finding[] {
  const out: Finding[] = [];
  const t = c.target;
  const leaf = c.clientChain[0];
  if (c.clientLoadError !== null) {
    out.push(
      finding({
        id: 'tls.client-cert-not-sent',
        severity: 'error',
        title: 'the client certificate was not sent: the TLS library refused to load it',
        detail:
          `Node's OpenSSL (as curl's) refused the certificate and key before connecting: ${c.clientLoadError}. ` +
          `The probe went on without a certificate; curl fails with "(58) unable to set private key file" or "could ` +
          `not load PEM client certificate".`,
        fix: 'see the offline findings above (key.mismatch, cert.refused-by-client-tls): fix the files, then probe again',
        evidence: { error: c.clientLoadError },
      }),
    );
  }
  if (c.requested === false) {
    out.push(
      finding({
        id: 'tls.client-cert-not-requested',
        severity: 'warning',
        title: `the server does not ask for a client certificate on ${t.host}:${t.port}`,
        detail:
          `Its TLS handshake has no CertificateRequest: it is not doing mutual TLS for this name and ` +
          `port${leaf ? ', so the client certificate was not sent (clients send one only when asked)' : ''}. Check ` +
          `that the name (SNI ${t.servername || 'none'}) and port are the mTLS endpoint. A few servers ask later, only ` +
          `for some paths (TLS renegotiation or post-handshake authentication).`,
        fix:
          'turn on client certificate verification for this name: nginx: ssl_verify_client on + ' +
          "ssl_client_certificate; mtlsgate: the domain's mutualTls section; API Gateway: the custom domain name's " +
          'mutual TLS (and disable the default execute-api endpoint)',
        evidence: { serverName: t.servername || null, port: t.port },
      }),
    );
  }
  const cas = c.raw.acceptableCAs;
  if (leaf && cas !== null && cas.length > 0 && c.clientLoadError === null) {
    const listed = new Set(cas.map((n) => n.toLowerCase()));
    const names = c.clientChain.flatMap((x) => [x.issuer, x.subject]);
    if (!names.some((n) => listed.has(n.toLowerCase()))) {
      // A hostile server can name thousands of CAs (64 KiB of them): the evidence keeps 20, tls.acceptableCAs all.
      out.push(
        finding({
          id: 'tls.ca-not-accepted',
          severity: c.serverAccepted ? 'warning' : 'error',
          title:
            `the server does not list the client certificate's issuer "${titleText(leaf.issuer)}" among the CAs ` +
            `it accepts`,
          detail: `In its CertificateRequest the server names the CAs whose certificates it accepts (for OpenSSL-based servers: the subjects in its truststore). Neither the issuer nor any CA of the client's chain is among them, so the server will most likely refuse the certificate (alert unknown_ca, a 403, or a closed connection). OpenSSL clients (curl, Node, mtlsgate) send the configured certificate anyway; Java, Go, .NET, browsers and other clients that pick a certificate by this list send none at all.${c.serverAccepted ? ' This server accepted it nonetheless: its list is incomplete or it trusts more than it names.' : ''}`,
          fix:
            `get a client certificate issued by one of the listed CAs, or add "${leaf.issuer}" (and its root) to ` +
            `the server's truststore\nopenssl s_client -connect ${t.connectHost}:${t.connectPort} ` +
            `-servername ${t.host} </dev/null 2>/dev/null | sed -n '/Acceptable client certificate CA ` +
            `names/,/Requested Signature/p'`,
          evidence: {
            clientIssuer: leaf.issuer,
            clientChain: c.clientChain.map((x) => x.subject),
            acceptableCAs: firstItems(cas, 20, ' (all in tls.acceptableCAs)'),
          },
        }),
      );
    }
  }
  return out;
}
