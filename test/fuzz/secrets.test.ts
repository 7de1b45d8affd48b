/**
 * Key material and passphrases never reach the output. doctor (text and --json, with --pass, with curl's
 * --cert file:PASS, with a wrong passphrase, with a PKCS#12, with key and certificate swapped), inspect (every key
 * encoding, text and --json), truststore lint on a bundle holding private keys, and doctor curl with passphrases
 * on the command line (a pasted line and arguments, a misspelt --pass) run on keys with known contents; then no
 * window of a private key's DER (hex, either case, also colon-separated), of its PEM base64 (every body line, and
 * every 20-character window), or of the passphrases appears anywhere in stdout or stderr. Windows that also occur
 * in public material (the certificate, the public key, at every base64 alignment) are not secret and not
 * checked. Also: `pki init` writes 0600 keys whatever the umask, and doctor warns about a key readable by others.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { chmodSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { issue } from '../../src/pki/generate.js';
import { parsePem } from '../../src/pki/pem.js';
import { cli } from '../helpers/cli.js';
import { openssl } from '../helpers/openssl.js';
import { testPki, tmpDir } from '../helpers/pki.js';

const PASS = 'Tz9#qL2!vW7$kP4@';
const WRONG = 'Wr0ng#Pa55-x7Qz';

const pki = await testPki();
const dir = tmpDir();
const f = (name: string): string => join(dir, name);
const write = (name: string, content: string | Buffer, mode = 0o600): string => {
  writeFileSync(f(name), content, { mode });
  chmodSync(f(name), mode);
  return f(name);
};

// A client certificate under the test PKI with an RSA key (most secret bytes), and its key in every encoding.
const client = await issue({
  subject: 'CN=secret client',
  profile: 'client',
  issuer: pki.intermediate,
  key: { type: 'rsa', bits: 2048 },
});
const key = createPrivateKey(client.keyPem);
const files = {
  cert: write('client.crt', client.certPem, 0o644),
  plain: write('plain.key', client.keyPem),
  enc: write('enc.key', String(key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: PASS }))),
  der: write('plain.der', key.export({ type: 'pkcs8', format: 'der' })),
  encDer: write('enc.der', key.export({ type: 'pkcs8', format: 'der', cipher: 'aes-256-cbc', passphrase: PASS })),
  pkcs1: write('pkcs1.key', String(key.export({ type: 'pkcs1', format: 'pem' }))),
  combined: write('combined.pem', client.certPem + client.keyPem),
  bundle: write(
    'bundle-with-keys.pem',
    client.certPem +
      client.keyPem +
      String(key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: PASS })),
    0o644,
  ),
};
const legacy = f('legacy.key');
openssl(['rsa', '-in', files.plain, '-traditional', '-aes256', '-passout', `pass:${PASS}`, '-out', legacy]);
chmodSync(legacy, 0o600);
const p12 = f('client.p12');
openssl(['pkcs12', '-export', '-in', files.cert, '-inkey', files.plain, '-passout', `pass:${PASS}`, '-out', p12]);
chmodSync(p12, 0o600);
// A truststore with the test PKI's CAs, and one that also holds the keys.
const truststore = pki.truststore;
const keyBundle = write(
  'truststore-with-keys.pem',
  `${readFileSync(truststore, 'utf8')}${client.keyPem}${String(key.export({ type: 'pkcs1', format: 'pem' }))}`,
  0o644,
);

/** Every secret form of the key: DER encodings (hex windows) and PEM texts (base64 lines and windows). */
const secretDers: Buffer[] = [
  key.export({ type: 'pkcs8', format: 'der' }),
  key.export({ type: 'pkcs1', format: 'der' }),
];
const secretPemTexts = [
  client.keyPem,
  ...[files.enc, files.pkcs1, legacy, files.bundle].map((p) => readFileSync(p, 'utf8')),
];
secretDers.push(
  ...secretPemTexts.flatMap((t) =>
    parsePem(t)
      .blocks.filter((b) => b.label.endsWith('PRIVATE KEY'))
      .map((b) => b.body),
  ),
  readFileSync(files.encDer),
);

/** Public material: anything also found here is not secret. */
const publicDers = [
  client.der,
  createPublicKey(key).export({ type: 'spki', format: 'der' }),
  createPublicKey(key).export({ type: 'pkcs1', format: 'der' }),
];
const publicHex = publicDers.map((d) => d.toString('hex')).join('|');
const publicB64 = publicDers.flatMap((d) => [0, 1, 2].map((k) => d.subarray(k).toString('base64'))).join('|');

const HEX_WINDOW = 16; // bytes
const B64_WINDOW = 20; // characters

interface Needle {
  text: string;
  what: string;
}

function needles(): Needle[] {
  const out = new Map<string, string>();
  for (const der of secretDers) {
    const hex = der.toString('hex');
    for (let i = 0; i + HEX_WINDOW * 2 <= hex.length; i += 2) {
      const w = hex.slice(i, i + HEX_WINDOW * 2);
      if (publicHex.includes(w)) continue;
      out.set(w, 'key DER (hex)');
      out.set(w.toUpperCase(), 'key DER (HEX)');
      if (i % 8 === 0) out.set(w.slice(0, 24).match(/../g)!.join(':'), 'key DER (colon hex)');
    }
  }
  for (const text of secretPemTexts) {
    for (const block of parsePem(text).blocks.filter((b) => b.label.endsWith('PRIVATE KEY'))) {
      const b64 = block.body.toString('base64');
      for (const line of b64.match(/.{1,64}/g) ?? [])
        if (line.length >= B64_WINDOW && !publicB64.includes(line)) out.set(line, 'PEM body line');
      for (let i = 0; i + B64_WINDOW <= b64.length; i++) {
        const w = b64.slice(i, i + B64_WINDOW);
        if (!publicB64.includes(w)) out.set(w, 'PEM base64');
      }
    }
  }
  for (const p of [PASS, WRONG])
    for (let i = 0; i + 5 <= p.length; i++) out.set(p.slice(i, i + 5), `passphrase ${JSON.stringify(p)}`);
  return [...out].map(([text, what]) => ({ text, what }));
}

const NEEDLES = needles();

function assertNoSecret(label: string, text: string): void {
  for (const n of NEEDLES) {
    const at = text.indexOf(n.text);
    assert.equal(
      at,
      -1,
      `${label}: ${n.what} ${JSON.stringify(n.text)} appears in the output: ...${text.slice(Math.max(0, at - 100), at + 100)}...`,
    );
  }
}

test('secrets: the needles are real (the key, its PEM and the passphrase are found where they are)', () => {
  assert.ok(NEEDLES.length > 1000, `${NEEDLES.length} needles`);
  const pem = String(readFileSync(files.enc, 'utf8'));
  assert.ok(
    NEEDLES.some((n) => pem.includes(n.text)),
    'the encrypted key PEM holds needles',
  );
  assert.ok(
    NEEDLES.some((n) => client.keyPem.includes(n.text)),
    'the plain key PEM holds needles',
  );
  assert.ok(
    NEEDLES.some((n) => (secretDers[0] as Buffer).toString('hex').includes(n.text)),
    'the DER hex holds needles',
  );
  assert.ok(
    !NEEDLES.some((n) => client.certPem.includes(n.text)),
    'the certificate holds none (public material is excluded)',
  );
  // The detector catches each kind of leak: a PEM line, a hex dump of 16 bytes of the DER, part of the passphrase.
  const pemLine = client.keyPem.split('\n')[15]!; // past the public modulus: private exponent and primes
  const hex = secretDers[0]!.subarray(700, 716).toString('hex');
  for (const leak of [
    pemLine,
    `Modulus=${hex.toUpperCase()}`,
    `key ${hex}`,
    `pass=${PASS.slice(3, 9)}`,
    readFileSync(legacy, 'utf8').split('\n')[4]!,
  ]) {
    assert.throws(() => assertNoSecret('self-test', `output ${leak} output`), /appears in the output/, leak);
  }
  assertNoSecret('self-test', `${client.certPem} ${client.der.toString('hex')} ${readFileSync(files.cert, 'utf8')}`);
});

const RUNS: Array<[string, string[]]> = [
  ['doctor --pass', ['doctor', '--cert', files.cert, '--key', files.enc, '--pass', PASS, '--truststore', truststore]],
  [
    'doctor --pass --json',
    ['doctor', '--json', '--cert', files.cert, '--key', files.enc, '--pass', PASS, '--truststore', truststore],
  ],
  [
    'doctor --cert file:PASS',
    ['doctor', '--json', '--cert', `${files.cert}:${PASS}`, '--key', files.enc, '--truststore', truststore],
  ],
  [
    'doctor wrong passphrase',
    ['doctor', '--cert', files.cert, '--key', files.enc, '--pass', WRONG, '--truststore', truststore],
  ],
  [
    'doctor wrong passphrase --json',
    ['doctor', '--json', '--cert', files.cert, '--key', legacy, '--pass', WRONG, '--truststore', truststore],
  ],
  [
    'doctor no passphrase',
    ['doctor', '--json', '--cert', files.cert, '--key', files.encDer, '--truststore', truststore],
  ],
  ['doctor PKCS#12', ['doctor', '--json', '--cert', p12, '--pass', PASS, '--truststore', truststore]],
  ['doctor PKCS#12 wrong password', ['doctor', '--cert', p12, '--pass', WRONG, '--truststore', truststore]],
  [
    'doctor cert and key swapped',
    ['doctor', '--json', '--cert', files.plain, '--key', files.cert, '--truststore', truststore],
  ],
  ['doctor key in the cert file', ['doctor', '--json', '--cert', files.combined, '--truststore', truststore]],
  [
    'doctor key as truststore',
    ['doctor', '--json', '--cert', files.cert, '--key', files.plain, '--truststore', files.bundle],
  ],
  [
    'inspect',
    [
      'inspect',
      '--pass',
      PASS,
      files.plain,
      files.enc,
      files.der,
      files.encDer,
      files.pkcs1,
      legacy,
      p12,
      files.combined,
    ],
  ],
  [
    'inspect --json',
    [
      'inspect',
      '--json',
      '--pass',
      PASS,
      files.plain,
      files.enc,
      files.der,
      files.encDer,
      files.pkcs1,
      legacy,
      p12,
      files.combined,
    ],
  ],
  ['inspect wrong passphrase', ['inspect', '--json', '--pass', WRONG, files.enc, legacy, p12]],
  ['inspect FILE:PASS', ['inspect', '--json', `${files.enc}:${PASS}`]],
  ['truststore lint (keys in the bundle)', ['truststore', 'lint', keyBundle]],
  ['truststore lint --json (keys in the bundle)', ['truststore', 'lint', '--json', keyBundle]],
  [
    'doctor curl --line',
    [
      'doctor',
      'curl',
      '--json',
      '--no-live',
      '--truststore',
      truststore,
      '--line',
      `curl --cert '${files.cert}:${PASS}' --key ${files.enc} --pass '${PASS}' https://localhost:1/`,
    ],
  ],
  [
    'doctor curl --line text',
    [
      'doctor',
      'curl',
      '--no-live',
      '--line',
      `curl -E '${files.cert}:${PASS}' --key ${files.enc} https://localhost:1/`,
      '--error',
      `curl: (58) unable to set private key file: '${files.enc}' type PEM`,
    ],
  ],
  [
    'doctor curl -- args',
    [
      'doctor',
      'curl',
      '--json',
      '--no-live',
      '--',
      '--cert',
      files.cert,
      '--key',
      files.enc,
      '--pass',
      PASS,
      'https://localhost:1/',
    ],
  ],
  [
    'doctor curl wrong --pass',
    [
      'doctor',
      'curl',
      '--json',
      '--no-live',
      '--',
      '--cert',
      files.cert,
      '--key',
      files.enc,
      '--pass',
      WRONG,
      'https://localhost:1/',
    ],
  ],
  [
    'doctor curl misspelt --pass',
    [
      'doctor',
      'curl',
      '--json',
      '--no-live',
      '--',
      '--cert',
      files.cert,
      '--key',
      files.enc,
      '--passs',
      PASS,
      'https://localhost:1/',
    ],
  ],
  [
    'doctor curl p12',
    ['doctor', 'curl', '--no-live', '--line', `curl --cert-type P12 --cert '${p12}:${PASS}' https://localhost:1/`],
  ],
];

for (const [name, argv] of RUNS) {
  test(`secrets: ${name}: no key material or passphrase in the output`, async () => {
    const { code, text } = await cli(argv, { env: { HOME: dir } });
    assert.ok(code >= 0 && code <= 2, `exit ${code}: ${text.slice(0, 500)}`);
    assert.ok(text.length > 0, 'some output');
    assertNoSecret(name, text);
  });
}

test('secrets: the runs above reached the key (decrypted it, or said why not)', async () => {
  const ok = JSON.parse((await cli(RUNS[1]![1], { env: { HOME: dir } })).text) as {
    verdict: { accepted: boolean };
    key: unknown;
  };
  assert.equal(ok.verdict.accepted, true, 'the right passphrase opened the key and the handshake passed');
  assert.ok(ok.key, 'the key is described');
  const wrong = (await cli(RUNS[3]![1], { env: { HOME: dir } })).text;
  assert.match(wrong, /key\.wrong-passphrase/);
  const lint = JSON.parse((await cli(RUNS[16]![1], { env: { HOME: dir } })).text) as {
    findings: Array<{ id: string }>;
  };
  assert.ok(lint.findings.some((x) => x.id === 'truststore.contains-private-key'));
  const curl = JSON.parse((await cli(RUNS[17]![1], { env: { HOME: dir } })).text) as {
    curl?: { passphrase?: { value: string } };
  };
  assert.equal(curl.curl?.passphrase?.value, '***');
});

test('secrets: doctor warns about a key readable by other users (key.permissions), not about a 0600 key', async () => {
  const loose = write('loose.key', client.keyPem, 0o644);
  const group = write('group.key', client.keyPem, 0o640);
  for (const [path, expected] of [
    [loose, '644'],
    [group, '640'],
    [files.plain, null],
  ] as const) {
    const { text } = await cli(['doctor', '--json', '--cert', files.cert, '--key', path, '--truststore', truststore], {
      env: { HOME: dir },
    });
    const perm = (
      JSON.parse(text) as { findings: Array<{ id: string; severity: string; evidence: { mode?: string } }> }
    ).findings.find((x) => x.id === 'key.permissions');
    if (expected === null) assert.equal(perm, undefined, `${path}: no warning for 0600`);
    else {
      assert.equal(perm?.severity, 'warning', `${path}: key.permissions`);
      assert.equal(perm?.evidence.mode, expected);
    }
    assertNoSecret('key.permissions', text);
  }
  // The text report shows the fix.
  const { text } = await cli(['doctor', '--cert', files.cert, '--key', loose, '--truststore', truststore], {
    env: { HOME: dir },
  });
  assert.ok(text.includes(`chmod 600 ${loose}`), text);
});

test('secrets: pki init writes every private key 0600, whatever the umask', async () => {
  const old = process.umask(0);
  try {
    const out = join(tmpDir(), 'pki');
    const { code, text } = await cli(['pki', 'init', out, '--domain', 'mtls.example.test'], { env: { HOME: dir } });
    assert.equal(code, 0, text);
    const keys = readdirSync(out).filter((n) => n.endsWith('.key'));
    assert.ok(keys.length >= 5, keys.join(' '));
    for (const k of keys) assert.equal(statSync(join(out, k)).mode & 0o777, 0o600, k);
    // Certificates are public: readable.
    for (const c of readdirSync(out).filter((n) => n.endsWith('.crt')))
      assert.equal(statSync(join(out, c)).mode & 0o077, 0o044, c);
    // init prints where the keys are, never what they hold.
    const keyTexts = keys.map((k) => readFileSync(join(out, k), 'utf8'));
    for (const kt of keyTexts)
      for (const line of kt.split('\n').filter((l) => l.length === 64)) assert.ok(!text.includes(line));
  } finally {
    process.umask(old);
  }
});
