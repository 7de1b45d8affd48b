/**
 * Deliberately broken (or merely unusual) client certificates issued from a test PKI, one per failure the
 * doctor explains. Each is a client certificate (clientAuth, digitalSignature, EC P-256 unless the variant
 * is about the key) that differs from a good one in exactly the way its name says.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { escapeDnValue } from './generate-name.js';
import { issue } from './generate-cert.js';
import type { Issued, IssueSpec } from './generate-cert.js';
import { ensureDir, writeCert, writeKey } from './generate-files.js';
import type { LoadedPki } from './generate-files.js';
import { parseVariant, type Variant } from './variant-names.js';

export { isVariant, parseVariant, VARIANTS, type Variant } from './variant-names.js';

export interface VariantOptions {
  /** File name stem: writes <name>.crt, <name>.key and, when CAs were made, <name>-cas.pem. */
  name: string;
  /** deep-chain only: how many CAs below the root (1-20, default 5). */
  depth?: number;
  /** Leaf common name, taken verbatim (commas and all); default `name`. */
  cn?: string;
  /** Where to write; default the PKI's directory. */
  dir?: string;
}

export interface VariantFiles {
  variant: Variant;
  cert: string; // <name>.crt: the leaf only
  key: string; // <name>.key, 0600
  /** <name>-cas.pem: the CAs made for this variant, the leaf's issuer first, the PKI root excluded; null when none. */
  cas: string | null;
  leaf: Issued;
  /** The CAs in `cas`, same order. */
  issuers: Issued[];
}

const DAY = 24 * 3600_000;

export async function issueVariant(pki: LoadedPki, variant: Variant, opts: VariantOptions): Promise<VariantFiles> {
  parseVariant(variant);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(opts.name)) {
    throw new UserError(
      'E_BAD_NAME',
      `bad name ${JSON.stringify(opts.name)}: use letters, digits, ".", "_" and "-" (it becomes <name>.crt)`,
    );
  }
  if (opts.depth !== undefined && variant !== 'deep-chain')
    throw new UserError('E_BAD_DEPTH', `--depth only applies to the deep-chain variant, not ${variant}`);
  const depth = opts.depth ?? 5;
  if (!Number.isInteger(depth) || depth < 1 || depth > 20)
    throw new UserError('E_BAD_DEPTH', `bad depth ${opts.depth}: give a whole number from 1 to 20`);

  const { leaf, issuers } = await build(pki, variant, opts.name, opts.cn ?? opts.name, depth);
  const dir = opts.dir ?? pki.dir;
  await ensureDir(dir);
  const cert = join(dir, `${opts.name}.crt`);
  const key = join(dir, `${opts.name}.key`);
  const casPath = join(dir, `${opts.name}-cas.pem`);
  await writeCert(cert, leaf.certPem);
  await writeKey(key, leaf.keyPem);
  if (issuers.length > 0) await writeCert(casPath, issuers.map((c) => c.certPem).join(''));
  else await rm(casPath, { force: true }); // a stale chain from an earlier variant of that name would mislead
  return { variant, cert, key, cas: issuers.length > 0 ? casPath : null, leaf, issuers };
}

interface Built {
  leaf: Issued;
  issuers: Issued[]; // nearest the leaf first
}

async function build(pki: LoadedPki, variant: Variant, name: string, cn: string, depth: number): Promise<Built> {
  const subject = `CN=${escapeDnValue(cn)}`;
  const caSubject = (what: string): string => `CN=${escapeDnValue(`${name} ${what}`)},O=mtlsgate test PKI`;
  const client = (extra: Partial<IssueSpec> = {}): Promise<Issued> =>
    issue({ subject, profile: 'client', issuer: pki.intermediate, ...extra });
  const now = Date.now();
  const leafOnly = async (p: Promise<Issued>): Promise<Built> => ({ leaf: await p, issuers: [] });

  switch (variant) {
    case 'expired':
      return leafOnly(client({ notBefore: new Date(now - 31 * DAY), notAfter: new Date(now - DAY) }));
    case 'not-yet-valid':
      return leafOnly(client({ notBefore: new Date(now + 30 * DAY), notAfter: new Date(now + 395 * DAY) }));
    case 'sha1':
      return leafOnly(client({ hash: 'sha1' }));
    case 'rsa-1024':
      return leafOnly(client({ key: { type: 'rsa', bits: 1024 } }));
    case 'rsa-2048':
      return leafOnly(client({ key: { type: 'rsa', bits: 2048 } }));
    case 'ec-p256':
      return leafOnly(client({ key: { type: 'ec', curve: 'P-256' } }));
    case 'ec-p384':
      return leafOnly(client({ key: { type: 'ec', curve: 'P-384' } }));
    case 'ed25519':
      return leafOnly(client({ key: { type: 'ed25519' } }));
    case 'no-client-auth':
      return leafOnly(client({ extKeyUsage: ['codeSigning'] }));
    case 'server-auth-only':
      return leafOnly(client({ profile: 'server' }));
    case 'no-digital-signature':
      // keyAgreement would still satisfy OpenSSL's sslclient purpose, so use a usage that does not.
      return leafOnly(client({ keyUsage: ['keyEncipherment'] }));
    case 'self-signed':
      return leafOnly(issue({ subject, profile: 'client' }));
    case 'issuer-not-ca': {
      // Everything a CA has except the cA flag, so basicConstraints is the one thing wrong.
      const notCa = await issue({
        subject: caSubject('not-a-CA issuer'),
        issuer: pki.root,
        ca: false,
        keyUsage: ['keyCertSign', 'cRLSign'],
        extKeyUsage: null,
      });
      return { leaf: await client({ issuer: notCa }), issuers: [notCa] };
    }
    case 'expired-ca': {
      const ca = await issue({
        subject: caSubject('expired CA'),
        profile: 'intermediate-ca',
        issuer: pki.root,
        notBefore: new Date(now - 730 * DAY),
        notAfter: new Date(now - DAY),
      });
      return { leaf: await client({ issuer: ca }), issuers: [ca] };
    }
    case 'pathlen-exceeded': {
      const top = await issue({
        subject: caSubject('CA pathLen 0'),
        profile: 'intermediate-ca',
        pathLength: 0,
        issuer: pki.root,
      });
      const sub = await issue({ subject: caSubject('sub-CA'), profile: 'intermediate-ca', issuer: top });
      return { leaf: await client({ issuer: sub }), issuers: [sub, top] };
    }
    case 'deep-chain': {
      const cas: Issued[] = [];
      let parent = pki.root;
      for (let i = 1; i <= depth; i++) {
        parent = await issue({ subject: caSubject(`CA ${i}`), profile: 'intermediate-ca', issuer: parent });
        cas.unshift(parent);
      }
      return { leaf: await client({ issuer: parent }), issuers: cas };
    }
  }
}
