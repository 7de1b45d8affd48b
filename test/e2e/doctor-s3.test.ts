/**
 * Truststores in S3 for the doctor and `truststore lint` (issue 16, point 3): `--truststore s3://BUCKET/KEY`, with
 * `--truststore-version` or `?versionId=`, read through the source the gateway uses, against s3rver with the
 * standard AWS environment. Failures are one line each with their own code.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { runBin } from '../helpers/cli.js';
import { makeWorld, s3Env, startS3, type S3Fake, type World } from '../helpers/lifecycle.js';

let w: World;
let s3: S3Fake;
let env: NodeJS.ProcessEnv;

before(async () => {
  w = await makeWorld('doctor-s3.e2e.test');
  s3 = await startS3(['trust']);
  env = s3Env(s3.endpoint);
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY! },
  });
  await client.send(new PutObjectCommand({ Bucket: 'trust', Key: 'truststore.pem', Body: w.ca.certPem }));
  await client.send(
    new PutObjectCommand({ Bucket: 'trust', Key: 'with-key.pem', Body: w.ca.certPem + w.client.keyPem }),
  );
  client.destroy();
});

after(async () => {
  await s3?.stop();
});

const doctor = (truststore: string, ...extra: string[]) =>
  runBin(['doctor', '--json', '--cert', w.clientFiles.certFile, '--key', w.clientFiles.keyFile, '--truststore', truststore, ...extra], { env }); // prettier-ignore

test('doctor --truststore s3://...: the same verdict as the file, read from S3', async () => {
  const r = await doctor('s3://trust/truststore.pem');
  assert.equal(r.code, 0, r.stderr.toString());
  const j = JSON.parse(r.stdout.toString()) as { verdict: unknown; verdictSource: string };
  assert.deepEqual(j.verdict, { accepted: true });
  assert.equal(j.verdictSource, 'handshake');
  assert.ok(
    s3.requests.some((q) => q.startsWith('GET /trust/truststore.pem')),
    s3.requests.join('\n'),
  );
});

test('the object version is sent: --truststore-version and ?versionId= alike', async () => {
  for (const args of [
    ['s3://trust/truststore.pem', '--truststore-version', 'v-123'],
    ['s3://trust/truststore.pem?versionId=v-456'],
  ]) {
    const before = s3.requests.length;
    await doctor(args[0]!, ...args.slice(1));
    const sent = s3.requests.slice(before).join('\n');
    assert.match(sent, /versionId=v-(123|456)/, sent);
  }
});

test('truststore lint s3://...: the lint of the object, a private key in it found', async () => {
  const ok = await runBin(['truststore', 'lint', '--json', 's3://trust/truststore.pem'], { env });
  assert.equal(ok.code, 0, ok.stderr.toString());
  const j = JSON.parse(ok.stdout.toString()) as { certificates: Array<{ subject: string }> };
  assert.deepEqual(
    j.certificates.map((c) => c.subject),
    ['CN=lifecycle Client CA,O=mtlsgate e2e'],
  );
  const bad = await runBin(['truststore', 'lint', '--json', 's3://trust/with-key.pem'], { env });
  assert.equal(bad.code, 1);
  const b = JSON.parse(bad.stdout.toString()) as { findings: Array<{ id: string }> };
  assert.ok(b.findings.some((f) => f.id === 'truststore.contains-private-key'));
});

test('no such object, no such bucket, an unreachable endpoint: one line each, exit 2', async () => {
  const cases: Array<[string, NodeJS.ProcessEnv, RegExp]> = [
    ['s3://trust/missing.pem', env, /s3:\/\/trust\/missing\.pem: no such object$/],
    ['s3://nobucket/truststore.pem', env, /bucket nobucket does not exist$/],
    ['s3://trust/truststore.pem', { ...env, AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9' }, /connection refused/],
  ];
  for (const [uri, e, why] of cases) {
    for (const args of [
      ['doctor', '--cert', w.clientFiles.certFile, '--truststore', uri],
      ['truststore', 'lint', uri],
    ]) {
      const r = await runBin(args, { env: e, timeoutMs: 60_000 });
      const err = r.stderr.toString().trim();
      assert.equal(r.code, 2, `${args.join(' ')}: ${err}`);
      assert.equal(err.split('\n').length, 1, err);
      assert.match(err, why);
      assert.doesNotMatch(err, /\n\s+at /);
    }
  }
  const wrongVersion = await runBin(['truststore', 'lint', 'file.pem', '--truststore-version', 'x'], { env });
  assert.equal(wrongVersion.code, 2);
  assert.match(wrongVersion.stderr.toString(), /--truststore-version applies to an s3:\/\/ truststore/);
});
