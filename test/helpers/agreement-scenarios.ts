/**
 * Cases for the doctor/gateway agreement suite: every policy scenario of test/policy/scenarios.ts (written as the
 * PEM files a user would have: the certificate file holds the leaf and whatever the client sends after it), plus
 * the file forms that still let a handshake happen (a DER certificate, a PKCS#12 given as --cert with its password,
 * one PEM file with certificate and key, an encrypted key with its passphrase, a certificate file carrying the leaf
 * and its intermediates) and a client that sends no certificate to a domain with `noCertificate: http403`.
 */
import { createPrivateKey } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildScenarios, type Scenario } from '../policy/scenarios.js';
import type { Issued } from '../../src/pki/generate.js';
import { run } from './proc.js';

/** How the client's files look on disk. */
export type FileForm =
  | 'pem' // leaf (+ what it sends) in client.crt, key in client.key
  | 'der' // client.crt is DER; the key is PEM
  | 'pkcs12' // client.p12 holds leaf and key, given as --cert with --pass
  | 'pem-with-key' // one PEM file with the certificate and the key; no --key
  | 'encrypted-key' // client.key is encrypted PKCS#8, --pass unlocks it
  | 'none'; // no certificate at all

export interface AgreementCase {
  name: string;
  form: FileForm;
  /** null: the client sends no certificate. */
  leaf: Issued | null;
  /** What the certificate file carries after the leaf (and so what the client sends). */
  sent: Issued[];
  truststore: Issued[];
  trustClientIntermediates: boolean;
  noCertificate: 'handshake' | 'http403';
  /** Expected: null = accepted. */
  reason: string | null;
  code: string | null;
  /**
   * Run the live part as `node bin/mtlsgate.js doctor --url ... --json` (the CLI path) instead of probe() in process.
   */
  viaCli: boolean;
}

/** The user's files: what is given to the doctor as --cert/--key/--pass. */
export interface UserFiles {
  dir: string;
  cert?: string;
  key?: string;
  pass?: string;
}

export const PASSPHRASE = 'agree-pass';
const NO_ISSUER = 'Could not find issuer for certificate';

/** Policy scenarios that also go through the CLI. */
const CLI_POLICY = new Set([
  'valid EC chain',
  'self-signed regenerated (same subject, other key)',
  '5 CAs on the path',
]);

export async function buildAgreementCases(): Promise<AgreementCase[]> {
  const scenarios = await buildScenarios();
  const byName = (name: string): Scenario => {
    const s = scenarios.find((x) => x.name === name);
    if (!s) throw new Error(`policy scenario "${name}" is gone from test/policy/scenarios.ts`);
    return s;
  };
  const fromPolicy = (sc: Scenario): AgreementCase => ({
    name: sc.name,
    form: 'pem',
    leaf: sc.leaf,
    sent: sc.clientIntermediates,
    truststore: sc.truststore,
    trustClientIntermediates: sc.trustClientIntermediates ?? false,
    noCertificate: 'handshake',
    reason: sc.reason,
    code: sc.code,
    viaCli: CLI_POLICY.has(sc.name),
  });
  const on = (form: FileForm, name: string, sc: Scenario, viaCli = false): AgreementCase => ({
    ...fromPolicy(sc),
    name: `${name} [${sc.name}]`,
    form,
    viaCli,
  });

  const goodEc = byName('valid EC chain');
  const goodRsa = byName('valid RSA chain');
  const four = byName('4 CAs on the path');
  const five = byName('5 CAs on the path');
  // The deep chains' truststores are [root, CA 1, ..., CA n-1]: give the client the CAs below the root to send,
  // nearest first, and let the truststore hold the root only.
  const sendBelowRoot = (sc: Scenario): Pick<AgreementCase, 'sent' | 'truststore' | 'trustClientIntermediates'> => ({
    sent: sc.truststore.slice(1).reverse(),
    truststore: sc.truststore.slice(0, 1),
    trustClientIntermediates: true,
  });

  return [
    ...scenarios.map(fromPolicy),
    on('der', 'DER certificate file', goodEc),
    on('der', 'DER certificate file', byName('self-signed not in truststore')),
    on('pkcs12', 'PKCS#12 as --cert with its password', goodEc),
    on('pkcs12', 'PKCS#12 as --cert with its password', byName('expired leaf'), true),
    on('pem-with-key', 'one PEM file with certificate and key', goodEc),
    on('pem-with-key', 'one PEM file with certificate and key', byName('no clientAuth EKU')),
    on('encrypted-key', 'encrypted RSA key with its passphrase', goodRsa, true),
    on('encrypted-key', 'encrypted EC key with its passphrase', byName('issuer not in truststore')),
    {
      ...on('pem', 'certificate file with leaf + 3 intermediates, trusted when allowed (4 CAs)', four),
      ...sendBelowRoot(four),
    },
    {
      ...on('pem', 'certificate file with leaf + 4 intermediates, trusted when allowed (5 CAs)', five),
      ...sendBelowRoot(five),
    },
    {
      ...on('pem', 'certificate file with leaf + 3 intermediates, ignored by default', four),
      ...sendBelowRoot(four),
      trustClientIntermediates: false,
      reason: NO_ISSUER,
      code: 'MTLSGATE_CLIENT_INTERMEDIATES_IGNORED',
    },
    {
      name: 'no certificate (noCertificate: http403)',
      form: 'none',
      leaf: null,
      sent: [],
      truststore: goodEc.truststore,
      trustClientIntermediates: false,
      noCertificate: 'http403',
      reason: 'No required SSL certificate was sent',
      code: 'MTLSGATE_NO_CERTIFICATE',
      viaCli: true,
    },
  ];
}

const pemOf = (certs: Issued[]): string => certs.map((c) => c.certPem).join('');

async function openssl(args: string[]): Promise<void> {
  const r = await run('openssl', args);
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

/**
 * Write the case's files, as a user would have them, into `dir` (its own directory: the doctor's fixes write relative
 * names).
 */
export async function writeUserFiles(c: AgreementCase, dir: string): Promise<UserFiles> {
  mkdirSync(dir, { recursive: true });
  if (c.leaf === null) return { dir };
  const p = (name: string): string => join(dir, name);
  const certPem = c.leaf.certPem + pemOf(c.sent);
  switch (c.form) {
    case 'pem':
      writeFileSync(p('client.crt'), certPem);
      writeFileSync(p('client.key'), c.leaf.keyPem, { mode: 0o600 });
      return { dir, cert: p('client.crt'), key: p('client.key') };
    case 'der':
      writeFileSync(p('client.crt'), c.leaf.der);
      writeFileSync(p('client.key'), c.leaf.keyPem, { mode: 0o600 });
      return { dir, cert: p('client.crt'), key: p('client.key') };
    case 'pem-with-key':
      writeFileSync(p('client.pem'), certPem + c.leaf.keyPem, { mode: 0o600 });
      return { dir, cert: p('client.pem') };
    case 'encrypted-key': {
      const enc = createPrivateKey(c.leaf.keyPem).export({
        type: 'pkcs8',
        format: 'pem',
        cipher: 'aes-256-cbc',
        passphrase: PASSPHRASE,
      });
      writeFileSync(p('client.crt'), certPem);
      writeFileSync(p('client.key'), enc, { mode: 0o600 });
      return { dir, cert: p('client.crt'), key: p('client.key'), pass: PASSPHRASE };
    }
    case 'pkcs12': {
      // OpenSSL 3's defaults: AES-256-CBC, SHA-256 MAC (what a current `openssl pkcs12 -export` gives a user).
      writeFileSync(p('in.crt'), certPem);
      writeFileSync(p('in.key'), c.leaf.keyPem, { mode: 0o600 });
      await openssl([
        'pkcs12',
        '-export',
        '-in',
        p('in.crt'),
        '-inkey',
        p('in.key'),
        '-out',
        p('client.p12'),
        '-passout',
        `pass:${PASSPHRASE}`,
      ]);
      return { dir, cert: p('client.p12'), pass: PASSPHRASE };
    }
    case 'none':
      return { dir };
  }
}
