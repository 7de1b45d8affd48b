/**
 * The explanation /denials gives: the doctor's own finding for the deny code, from its offline checks on the
 * refused certificate against the domain's truststore and allow-lists as the gateway holds them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { explainDenial, type DomainToExplainWith } from '../../src/doctor/explain-denial.js';
import { parseConfig } from '../../src/gateway/config.js';
import { certFromPem } from '../../src/pki/cert.js';
import { issue } from '../../src/pki/generate.js';
import { DEFAULT_POLICY } from '../../src/policy/rules.js';
import { makeTruststore } from '../../src/trust/truststore.js';

async function setup() {
  const root = await issue({ subject: 'CN=Explain Root', profile: 'root-ca' });
  const inter = await issue({ subject: 'CN=Explain Intermediate', profile: 'intermediate-ca', issuer: root });
  const client = await issue({ subject: 'CN=explained client', profile: 'client', issuer: inter });
  const selfSigned = await issue({ subject: 'CN=lone client', profile: 'client' });
  const expired = await issue({
    subject: 'CN=old client',
    profile: 'client',
    issuer: root,
    notBefore: new Date(Date.now() - 30 * 86_400_000),
    notAfter: new Date(Date.now() - 86_400_000),
  });
  const config = parseConfig(
    JSON.stringify({
      domains: [
        {
          domainName: 'explain.test',
          certificate: { cert: '/s.crt', key: '/s.key' },
          mutualTls: { truststoreUri: 'file:///etc/mtlsgate/truststore.pem' },
          basePathMappings: [
            { basePath: 'admin', target: 'http://127.0.0.1:9', allow: { subjects: ['CN=someone else'] } },
            { basePath: '', target: 'http://127.0.0.1:9' },
          ],
        },
      ],
    }),
    '/etc/mtlsgate/c.json',
  );
  const domain: DomainToExplainWith = {
    config: config.domains[0]!,
    truststore: makeTruststore('file:///etc/mtlsgate/truststore.pem', [certFromPem(root.certPem)]),
    policy: DEFAULT_POLICY,
    revocation: null,
  };
  const cert = (i: { certPem: string }) => certFromPem(i.certPem);
  return {
    domain,
    root,
    inter,
    client: cert(client),
    interCert: cert(inter),
    selfSigned: cert(selfSigned),
    expired: cert(expired),
  };
}

const at = new Date();

test("each deny code gets the doctor's finding, with its fix naming the domain's truststore file", async () => {
  const s = await setup();
  const explain = (code: string, reason: string, leaf = s.client, sent = [s.interCert], path = '/x') =>
    explainDenial({ code, reason, leaf, sent, path, at }, s.domain);

  const selfSigned = await explain('DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate', s.selfSigned, []);
  assert.equal(selfSigned?.findingId, 'chain.self-signed-untrusted');
  assert.match(selfSigned!.fix, /^cat client\.crt >> \/etc\/mtlsgate\/truststore\.pem /);

  const ignored = await explain('MTLSGATE_CLIENT_INTERMEDIATES_IGNORED', 'Could not find issuer for certificate');
  assert.equal(ignored?.findingId, 'chain.client-intermediates-ignored');

  const missing = await explain(
    'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    'Could not find issuer for certificate',
    s.client,
    [],
  );
  assert.equal(missing?.findingId, 'chain.issuer-missing');
  assert.match(missing!.title, /Explain Intermediate/);

  const expired = await explain('CERT_HAS_EXPIRED', 'certificate has expired', s.expired, []);
  assert.equal(expired?.findingId, 'cert.expired');

  const notAllowed = await explain('MTLSGATE_NOT_ALLOWED', 'client certificate not allowed', s.expired, [], '/admin/x');
  assert.equal(notAllowed?.findingId, 'route.not-allowed');
  assert.match(notAllowed!.fix, /basePathMappings\[0\]\.allow/);

  const none = await explainDenial(
    {
      code: 'MTLSGATE_NO_CERTIFICATE',
      reason: 'No required SSL certificate was sent',
      leaf: null,
      sent: [],
      path: null,
      at,
    },
    s.domain,
  );
  assert.equal(none?.findingId, 'route.certificate-required');
});

test('no offline finding: the doctor command to run; an authorizer refusal: no explanation', async () => {
  const s = await setup();
  // An OCSP answer cannot be seen in files.
  const ocsp = await explainDenial(
    {
      code: 'MTLSGATE_REVOCATION_UNAVAILABLE',
      reason: 'revocation status unavailable',
      leaf: s.client,
      sent: [s.interCert],
      path: '/',
      at,
    },
    { ...s.domain, truststore: makeTruststore('t', [certFromPem(s.root.certPem), s.interCert]) },
  );
  assert.deepEqual(ocsp, {
    findingId: null,
    title: 'revocation status unavailable',
    detail: '',
    fix: 'mtlsgate doctor --cert client.crt --truststore /etc/mtlsgate/truststore.pem',
  });
  const authorizer = await explainDenial(
    { code: 'AUTHORIZER_EXPLICIT_DENY', reason: 'explicit deny', leaf: s.client, sent: [], path: '/', at },
    s.domain,
  );
  assert.equal(authorizer, null);
});
