// An empty file name given to doctor, doctor curl, inspect or truststore lint is a one-line usage error naming
// the option (exit 2), not "certificate file  does not exist" with nothing between the spaces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cli } from '../helpers/cli.js';

test('an empty path to any file option or argument: exit 2, one line naming the option', async () => {
  const cases: Array<[string[], string]> = [
    [['doctor', '--cert', ''], '--cert'],
    [['doctor', '--cert='], '--cert'],
    [['doctor', '--cert', ':s3cret-pass', '--key', 'k.pem'], '--cert'],
    [['doctor', '--cert', 'c.pem', '--key', ''], '--key'],
    [['doctor', '--cert', 'c.pem', '--truststore='], '--truststore'],
    [['doctor', '--truststore', ''], '--truststore'],
    [['doctor', '--url', 'https://x.test/', '--cacert', ''], '--cacert'],
    [['doctor', 'curl', '--no-live', '--truststore', '', '--', 'https://x.test/'], '--truststore'],
    [['doctor', '--truststore', '', 'curl', '--no-live', '--', 'https://x.test/'], '--truststore'],
    [['inspect', ''], 'inspect FILE'],
    [['inspect', 'missing.pem', ''], 'inspect FILE'],
    [['inspect', ':s3cret-pass'], 'inspect FILE'],
    [['truststore', 'lint', ''], 'truststore lint FILE'],
  ];
  for (const [args, name] of cases) {
    const r = await cli(args);
    const shown = JSON.stringify(args);
    assert.equal(r.code, 2, `${shown}: ${r.out}${r.err}`);
    assert.equal(r.err, `mtlsgate: ${name}: empty path\n`, shown);
    assert.equal(r.out, '', shown);
  }
});
