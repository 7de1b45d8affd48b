/**
 * Every finding id the doctor and `truststore lint` can produce: the one table the FindingId type comes from.
 * docs/findings.md (and docs/doctor-curl.md for curl.*) list each of them; test/report/catalogues.test.ts checks
 * both ways. An id is never renamed and never reused for another condition.
 */
export const FINDING_IDS = [
  'cert.expired', 'cert.expires-soon', 'cert.file-not-found', 'cert.insecure-signature', 'cert.is-ca',
  'cert.is-pkcs12', 'cert.is-private-key', 'cert.key-usage', 'cert.no-client-auth', 'cert.not-yet-valid',
  'cert.parse-error', 'cert.refused-by-client-tls', 'cert.weak-key', 'cert.wrong-format',
  'key.file-not-found', 'key.is-certificate', 'key.mismatch', 'key.missing', 'key.parse-error',
  'key.passphrase-required', 'key.permissions', 'key.wrong-format', 'key.wrong-passphrase',
  'pkcs12.legacy-encryption', 'pkcs12.wrong-passphrase',
  'chain.ca-expired', 'chain.ca-not-yet-valid', 'chain.ca-purpose', 'chain.client-intermediates-ignored',
  'chain.insecure-signature', 'chain.issuer-missing', 'chain.not-a-ca', 'chain.path-length-exceeded',
  'chain.root-missing', 'chain.self-signed-modified', 'chain.self-signed-untrusted', 'chain.signature-invalid',
  'chain.too-long',
  'truststore.ca-names-too-large', 'truststore.constraints-not-judged', 'truststore.contains-private-key',
  'truststore.duplicate', 'truststore.empty', 'truststore.expired', 'truststore.expires-soon',
  'truststore.file-not-found', 'truststore.incomplete-chain', 'truststore.insecure-signature', 'truststore.not-ca',
  'truststore.parse-error', 'truststore.same-subject-different-key', 'truststore.too-deep', 'truststore.unreadable',
  'truststore.weak-key', 'truststore.wrong-format',
  'doctor.handshake-failed', 'doctor.model-disagreement', 'doctor.no-truststore',
  'dns.timeout', 'dns.unresolvable',
  'tcp.refused', 'tcp.timeout', 'tcp.unreachable',
  'tls.alert', 'tls.ca-not-accepted', 'tls.client-cert-not-requested', 'tls.client-cert-not-sent',
  'tls.client-cert-rejected', 'tls.client-cert-required', 'tls.closed-after-handshake',
  'tls.closed-during-handshake', 'tls.handshake-failed', 'tls.no-server-name', 'tls.not-tls', 'tls.protocol-version',
  'tls.reset', 'tls.timeout', 'tls.unrecognized-name',
  'server.expired', 'server.name-mismatch', 'server.untrusted',
  'http.access-denied', 'http.bad-response', 'http.certificate-error', 'http.forbidden', 'http.misdirected',
  'http.no-certificate', 'http.ok', 'http.status', 'http.timeout', 'http.truncated',
  'live.differs-from-offline', 'live.matches-offline',
  'curl.bad-url', 'curl.cacert-not-found', 'curl.cacert-not-loaded', 'curl.cacert-not-pem', 'curl.cannot-resolve',
  'curl.capath-not-found', 'curl.capath-not-hashed', 'curl.cert-colon-in-name', 'curl.cert-engine',
  'curl.cert-file-not-found', 'curl.cert-not-loaded', 'curl.cert-type-invalid', 'curl.cert-type-mismatch',
  'curl.cert-type-p12-on-pem', 'curl.client-cert-refused-locally', 'curl.client-cert-rejected',
  'curl.client-cert-required', 'curl.client-cert-unknown-ca', 'curl.connect-failed', 'curl.connection-reset',
  'curl.empty-reply', 'curl.error-unrecognized', 'curl.exit-code-differs', 'curl.handshake-failure',
  'curl.host-header-not-sni', 'curl.http-error', 'curl.insecure', 'curl.key-missing', 'curl.key-not-loaded',
  'curl.key-type-invalid', 'curl.key-type-mismatch', 'curl.key-without-cert', 'curl.live-not-as-curl',
  'curl.local-cert-problem', 'curl.missing-value', 'curl.no-client-cert', 'curl.no-url', 'curl.not-https',
  'curl.not-tls', 'curl.p12-not-loaded', 'curl.p12-without-cert-type', 'curl.pass-missing', 'curl.receive-failed',
  'curl.relative-path', 'curl.schannel-import-failed', 'curl.schannel-revocation', 'curl.server-cert-expired',
  'curl.server-cert-untrusted', 'curl.server-name-mismatch', 'curl.several-urls', 'curl.timeout', 'curl.tls-alert',
  'curl.tls-handshake-failed', 'curl.tls-version-mismatch', 'curl.unknown-option', 'curl.unsupported-protocol',
  'curl.usage-error', 'curl.windows-schannel',
] as const;

/** curl's exit codes with no finding of their own get `curl.exit-N` (documented once, as `curl.exit-N`). */
export type CurlExitId = `curl.exit-${number}`;

export type FindingId = (typeof FINDING_IDS)[number] | CurlExitId;
