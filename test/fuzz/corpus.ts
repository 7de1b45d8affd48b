/**
 * Seed corpora for the fuzz targets: real-world files from Debian's python3-cryptography-vectors (odd
 * certificates, CSRs, CRLs, keys in every encoding, PKCS#12 and PKCS#7 files), plus files made here with the
 * openssl binary (test/helpers/openssl.ts) and with src/pki/generate.ts. Built once in the main thread and
 * handed to the fuzz workers as plain data (structured clone).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parsePem } from '../../src/pki/pem.js';
import { sniffDer } from '../../src/pki/sniff.js';
import { fixtures, PASS } from '../helpers/openssl.js';
import { testPki } from '../helpers/pki.js';

/** Where Debian installs the vectors (`dpkg -L python3-cryptography-vectors`); MTLSGATE_VECTORS overrides it. */
export const VECTORS_DIR = process.env.MTLSGATE_VECTORS ?? '/usr/lib/python3/dist-packages/cryptography_vectors';

/** The reason the vectors are not used, or null when they are there. */
export function vectorsMissing(): string | null {
  if (existsSync(join(VECTORS_DIR, 'x509', 'custom'))) return null;
  return `python3-cryptography-vectors not installed: ${VECTORS_DIR}/x509/custom is missing (scripts/setup.sh installs it; apt-get install python3-cryptography-vectors)`;
}

export interface Seed {
  name: string;
  bytes: Uint8Array;
}

export interface Corpus {
  /** Null when the vectors were there; else why not. */
  vectorsMissing: string | null;
  vectorFiles: number;
  /** Every DER blob: binary files and the bodies of every PEM block. */
  ders: Seed[];
  certDers: Seed[];
  /** DER private keys, plain and encrypted (PKCS#8, PKCS#1, SEC1, encrypted PKCS#8). */
  keyDers: Seed[];
  /** PEM text holding private keys (including legacy `Proc-Type: 4,ENCRYPTED` ones). */
  keyPems: string[];
  p12: Seed[];
  p7Ders: Seed[];
  /** Every PEM text. */
  pems: string[];
  /** PEM texts with at least one certificate. */
  bundles: string[];
  passphrases: string[];
  curlLines: string[];
  /** Matching client certificate, key and truststore files (so the doctor's loopback handshake runs). */
  pairs: Array<{ cert: Uint8Array; key: Uint8Array | null; truststore: Uint8Array; pass?: string }>;
  configsYaml: string[];
  configsJson: string[];
}

/** The vector folders the brief names, read recursively; NIST .txt/.rsp answer files are not inputs. */
const VECTOR_DIRS = ['x509', 'asymmetric', 'pkcs12', 'pkcs7'];
const SKIP = /PKITS_data|\.(txt|rsp|fax|input|sh|py|pyc)$/;

export function vectorFiles(): string[] {
  if (vectorsMissing()) return [];
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (SKIP.test(p)) continue;
      if (statSync(p).isDirectory()) walk(p);
      else out.push(p);
    }
  };
  for (const d of VECTOR_DIRS) if (existsSync(join(VECTORS_DIR, d))) walk(join(VECTORS_DIR, d));
  return out;
}

let built: Promise<Corpus> | undefined;

export function buildCorpus(): Promise<Corpus> {
  built ??= make();
  return built;
}

async function make(): Promise<Corpus> {
  const c: Corpus = {
    vectorsMissing: vectorsMissing(),
    vectorFiles: 0,
    ders: [],
    certDers: [],
    keyDers: [],
    keyPems: [],
    p12: [],
    p7Ders: [],
    pems: [],
    bundles: [],
    passphrases: [PASS, 'foobar', 'cryptography', 'password', '', 'wrong', 'pässwörd', 'a:b\\c'],
    curlLines: [],
    pairs: [],
    configsYaml: [],
    configsJson: [],
  };
  const files: Array<[string, Buffer]> = vectorFiles().map((p) => [
    `vectors/${relative(VECTORS_DIR, p)}`,
    readFileSync(p),
  ]);
  c.vectorFiles = files.length;
  const fx = fixtures();
  for (const [k, v] of Object.entries(fx)) {
    if (k !== 'dir' && k !== 'conf') files.push([`openssl/${k}`, readFileSync(v)]);
  }
  const pki = await testPki();
  for (const p of [
    pki.rootCert,
    pki.intermediateCert,
    pki.clientCert,
    pki.clientKey,
    pki.truststore,
    pki.serverCert,
    pki.serverKey,
  ]) {
    files.push([`generate/${relative(pki.dir, p)}`, readFileSync(p)]);
  }
  for (const [name, bytes] of files) addFile(c, name, bytes);

  // Bundles made of several certificates, as users concatenate them.
  const certPems = c.pems.filter((p) => p.includes('BEGIN CERTIFICATE')).slice(0, 40);
  for (let i = 0; i + 3 <= certPems.length; i += 3) c.bundles.push(certPems.slice(i, i + 3).join('\n'));
  c.bundles.push(readFileSync(pki.truststore, 'utf8') + readFileSync(pki.clientKey, 'utf8'));

  c.curlLines.push(...curlSeeds(fx.leafCert, fx.rsaPkcs8, fx.p12Modern, fx.caCert));
  const file = (p: string): Uint8Array => new Uint8Array(readFileSync(p));
  c.pairs.push(
    { cert: file(pki.clientCert), key: file(pki.clientKey), truststore: file(pki.truststore) },
    { cert: file(fx.leafCert), key: file(fx.rsaEncPkcs8), truststore: file(fx.caCert), pass: PASS },
    { cert: file(fx.leafCert), key: file(fx.rsaLegacyEnc), truststore: file(fx.caCert), pass: PASS },
    { cert: file(fx.p12Modern), key: null, truststore: file(fx.caCert), pass: PASS },
    { cert: file(pki.selfSignedCert), key: file(pki.selfSignedKey), truststore: file(pki.truststore) },
  );
  c.configsYaml.push(CONFIG_YAML, CONFIG_YAML_MIN);
  c.configsJson.push(JSON.stringify(CONFIG_OBJECT, null, 2), JSON.stringify(CONFIG_OBJECT));
  return c;
}

function addFile(c: Corpus, name: string, bytes: Buffer): void {
  const seed = (n: string, b: Uint8Array): Seed => ({ name: n, bytes: new Uint8Array(b) });
  const kind = bytes[0] === 0x30 ? sniffDer(bytes) : null;
  if (kind !== null || bytes[0] === 0x30) addDer(c, name, bytes, kind);
  if (kind === 'pkcs12') c.p12.push(seed(name, bytes));
  if (kind === 'pkcs7') c.p7Ders.push(seed(name, bytes));
  const text = bytes.toString('latin1');
  if (!text.includes('-----BEGIN ')) return;
  c.pems.push(text);
  const pem = parsePem(text);
  if (pem.blocks.some((b) => b.label.endsWith('PRIVATE KEY'))) c.keyPems.push(text);
  if (pem.blocks.some((b) => b.label === 'CERTIFICATE')) c.bundles.push(text);
  for (const b of pem.blocks) {
    const k = sniffDer(b.body);
    addDer(c, `${name}#${b.index}`, b.body, k);
    if (b.label === 'PKCS7' || k === 'pkcs7') c.p7Ders.push(seed(`${name}#${b.index}`, b.body));
  }
}

function addDer(c: Corpus, name: string, der: Uint8Array, kind: ReturnType<typeof sniffDer>): void {
  // A copy of exactly these bytes: a view into a pooled Buffer would drag the whole pool through structured clone.
  const seed: Seed = { name, bytes: new Uint8Array(der) };
  c.ders.push(seed);
  if (kind === 'certificate') c.certDers.push(seed);
  if (
    kind === 'pkcs8' ||
    kind === 'pkcs1' ||
    kind === 'sec1' ||
    kind === 'encrypted-pkcs8' ||
    kind === 'dsa-private-key'
  )
    c.keyDers.push(seed);
}

function curlSeeds(cert: string, key: string, p12: string, ca: string): string[] {
  return [
    `curl --cert ${cert} --key ${key} https://api.example.com/ping`,
    `curl -v --cert ${cert}:'correct horse' --key ${key} --cacert ${ca} https://mtls.example.test:8443/orders?id=1`,
    `$ curl -sS -E ${p12} --cert-type P12 --pass s3cret \\\n  --resolve mtls.example.test:8443:127.0.0.1 \\\n  https://mtls.example.test:8443/`,
    `curl.exe --cert C:\\certs\\client.crt --key C:\\certs\\client.key ^\n  https://api.example.com/`,
    `PS C:\\> curl.exe -E "client.p12:pa ss" --cert-type P12 \`\n  https://api.example.com/ -H "Host: api.example.com"`,
    `sudo env A=1 curl -k -X POST -d '{"a":1}' -H 'Content-Type: application/json' --tlsv1.2 --tls-max 1.3 https://x.test/ 2>&1 | tee out.txt`,
    `curl --cert "a\\:b.pem" --key=k.pem --connect-to a.test:443:b.test:8443 -m 5 https://a.test/ && echo ok\ncurl: (58) unable to set private key file: 'k.pem' type PEM`,
    `curl $'--cert' $'client\\x2epem' --pass "$PASS" \`echo x\` https://\${HOST}/ # comment`,
    `curl -Ecert.pem:pw -Kcurlrc --next https://a.example/ https://b.example/`,
  ];
}

export const CONFIG_OBJECT = {
  listen: { host: '127.0.0.1', port: 8443 },
  admin: { host: '127.0.0.1', port: 9901 },
  domains: [
    {
      domainName: 'mtls.example.test',
      certificate: { cert: './server.crt', key: './server.key', passphrase: 'secret' },
      securityPolicy: 'TLS_1_2',
      mutualTls: {
        truststoreUri: 'file://./truststore.pem',
        exposeReason: false,
        noCertificate: 'handshake',
        trustClientIntermediates: false,
      },
      basePathMappings: [
        { basePath: 'orders', target: 'http://127.0.0.1:9000' },
        { basePath: '(none)', target: 'https://127.0.0.1:9001/base' },
      ],
    },
    {
      domainName: '*.example.org',
      certificate: { cert: '/etc/ssl/a.crt', key: '/etc/ssl/a.key' },
      securityPolicy: 'TLS_1_3',
      mutualTls: {
        truststoreUri: 's3://bucket/truststore.pem',
        truststoreVersion: 'v1',
        exposeReason: true,
        noCertificate: 'http403',
      },
      basePathMappings: [{ target: 'http://127.0.0.1:9002' }],
    },
  ],
  s3: { endpoint: 'http://127.0.0.1:4569', region: 'us-east-1', forcePathStyle: true },
  timeouts: { handshakeMs: 10000, headersMs: 10000, requestMs: 60000, idleMs: 60000, backendMs: 30000 },
  limits: { maxConnections: 10000, maxHeaderBytes: 16384 },
  logs: { format: 'json', level: 'info' },
};

const CONFIG_YAML = `# a full config
listen: { host: 127.0.0.1, port: 8443 }
admin: { host: 127.0.0.1, port: 9901 }
domains:
  - domainName: mtls.example.test
    certificate: { cert: ./server.crt, key: ./server.key, passphrase: "secret" }
    securityPolicy: TLS_1_2
    mutualTls:
      truststoreUri: file://./truststore.pem
      exposeReason: false
      noCertificate: handshake
      trustClientIntermediates: false
    basePathMappings:
      - basePath: orders
        target: http://127.0.0.1:9000
      - basePath: (none)
        target: https://127.0.0.1:9001/base
  - domainName: "*.example.org"
    certificate: { cert: /etc/ssl/a.crt, key: /etc/ssl/a.key }
    securityPolicy: TLS_1_3
    mutualTls: { truststoreUri: "s3://bucket/truststore.pem", truststoreVersion: v1, exposeReason: true, noCertificate: http403 }
    basePathMappings: [{ target: "http://127.0.0.1:9002" }]
s3: { endpoint: "http://127.0.0.1:4569", region: us-east-1, forcePathStyle: true }
timeouts: { handshakeMs: 10000, headersMs: 10000, requestMs: 60000, idleMs: 60000, backendMs: 30000 }
limits: { maxConnections: 10000, maxHeaderBytes: 16384 }
logs: { format: json, level: info }
`;

const CONFIG_YAML_MIN = `domains:
  - domainName: a.test
    certificate: { cert: s.crt, key: s.key }
    mutualTls: { truststoreUri: file://ts.pem }
    basePathMappings: [{ basePath: x, target: "http://127.0.0.1:1" }]
`;
