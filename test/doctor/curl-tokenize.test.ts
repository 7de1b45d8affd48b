/** The pasted-line tokenizer: a shell's word splitting and quoting, never its evaluation. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tokenize } from '../../src/doctor/curl/tokenize.js';
import { isUserError } from '../../src/errors.js';

const cases: Array<{
  name: string;
  line: string;
  args: string[];
  program?: string | null;
  dialect?: 'posix' | 'windows';
  note?: RegExp;
  home?: string;
}> = [
  { name: 'plain words', line: 'curl -v https://x.test/', args: ['-v', 'https://x.test/'], program: 'curl' },
  {
    name: 'prompt and path to curl',
    line: '$ /usr/bin/curl -k https://x.test/',
    args: ['-k', 'https://x.test/'],
    program: '/usr/bin/curl',
  },
  { name: 'root prompt', line: '# curl -k https://x.test/', args: ['-k', 'https://x.test/'], program: 'curl' },
  {
    name: 'single quotes keep everything',
    line: `curl --cert 'a b.pem' -H 'X: "$HOME\\n"' u`,
    args: ['--cert', 'a b.pem', '-H', 'X: "$HOME\\n"', 'u'],
  },
  {
    name: 'double quotes: \\" \\\\ \\$ escaped, other backslashes kept',
    line: 'curl -H "a\\"b\\\\c\\$d\\e" u',
    args: ['-H', 'a"b\\c$d\\e', 'u'],
  },
  {
    name: 'backslash outside quotes escapes a space',
    line: 'curl --cert my\\ cert.pem u',
    args: ['--cert', 'my cert.pem', 'u'],
  },
  {
    name: 'adjacent quoted parts make one word',
    line: `curl -H 'Host: '"x.test" u`,
    args: ['-H', 'Host: x.test', 'u'],
  },
  { name: 'empty quoted word is an argument', line: `curl -H '' u`, args: ['-H', '', 'u'] },
  {
    name: 'line continuations',
    line: 'curl -v \\\n  --cert c.pem \\\n  --key k.pem \\\n  https://x.test/',
    args: ['-v', '--cert', 'c.pem', '--key', 'k.pem', 'https://x.test/'],
  },
  { name: 'CRLF continuations', line: 'curl -v \\\r\n  https://x.test/\r\n', args: ['-v', 'https://x.test/'] },
  { name: "$'...' ANSI-C quoting", line: "curl -H $'a\\tb\\x41\\'\\101' u", args: ['-H', "a\tbA'A", 'u'] },
  { name: '$"..." is a double-quoted string', line: 'curl -H $"X: y" u', args: ['-H', 'X: y', 'u'] },
  {
    name: 'Windows path in single quotes stays whole (POSIX)',
    line: "curl --cert 'C:\\a\\b.pem:pw' u",
    args: ['--cert', 'C:\\a\\b.pem:pw', 'u'],
    dialect: 'posix',
  },
  {
    name: "curl's \\: escape written for the shell as \\\\:",
    line: 'curl --cert a\\\\:b.pem:pw u',
    args: ['--cert', 'a\\:b.pem:pw', 'u'],
  },
  {
    name: 'an unquoted \\: loses its backslash, with a note',
    line: 'curl --cert a\\:b.pem:pw u',
    args: ['--cert', 'a:b.pem:pw', 'u'],
    note: /shell eats the backslash/,
  },
  { name: 'comment', line: 'curl -k https://x.test/ # try again', args: ['-k', 'https://x.test/'] },
  { name: 'hash inside a word is not a comment', line: 'curl https://x.test/#frag', args: ['https://x.test/#frag'] },
  {
    name: 'pipe ends the command',
    line: 'curl -s https://x.test/ | jq .',
    args: ['-s', 'https://x.test/'],
    note: /ends at "\|"/,
  },
  {
    name: '&& ends the command',
    line: 'curl -s https://x.test/ && echo ok',
    args: ['-s', 'https://x.test/'],
    note: /ends at "&&"/,
  },
  {
    name: 'unquoted & cuts a URL, as in a shell',
    line: 'curl https://x.test/?a=1&b=2',
    args: ['https://x.test/?a=1'],
    note: /quote URLs that contain &/,
  },
  {
    name: 'redirections are dropped',
    line: 'curl https://x.test/ > out.txt 2>&1 <in',
    args: ['https://x.test/'],
    note: /redirection ">\s?out.txt"/,
  },
  {
    name: 'variables are not expanded',
    line: 'curl -H "Authorization: Bearer $TOKEN" --cert $(pwd)/c.pem u',
    args: ['-H', 'Authorization: Bearer $TOKEN', '--cert', '$(pwd)/c.pem', 'u'],
    note: /\$TOKEN is not expanded/,
  },
  {
    name: 'leading ~ is the home directory',
    line: "curl --cert ~/c.pem --key '~/k.pem' u",
    args: ['--cert', '/home/u/c.pem', '--key', '~/k.pem', 'u'],
    home: '/home/u',
  },
  {
    name: 'env assignment and sudo before curl are skipped',
    line: 'SSL_CERT_FILE=/x sudo curl u',
    args: ['u'],
    program: 'curl',
    note: /SSL_CERT_FILE=\/x/,
  },
  {
    name: 'arguments without the program word',
    line: '--cert c.pem https://x.test/',
    args: ['--cert', 'c.pem', 'https://x.test/'],
    program: null,
  },
  {
    name: 'the command ends at a newline; the rest is kept',
    line: 'curl https://x.test/\ncurl: (6) Could not resolve host: x.test',
    args: ['https://x.test/'],
  },
  {
    name: 'curl.exe: Windows rules, backslashes literal',
    line: 'curl.exe --cert C:\\certs\\client.pem -k "https://x.test/a b"',
    args: ['--cert', 'C:\\certs\\client.pem', '-k', 'https://x.test/a b'],
    dialect: 'windows',
    program: 'curl.exe',
  },
  {
    name: 'cmd.exe ^ continuation',
    line: 'curl --cert c.pem ^\n  --key k.pem ^\n  https://x.test/',
    args: ['--cert', 'c.pem', '--key', 'k.pem', 'https://x.test/'],
    dialect: 'windows',
  },
  {
    name: 'PowerShell backtick continuation',
    line: 'PS C:\\> curl.exe --cert c.p12:pw `\n  https://x.test/',
    args: ['--cert', 'c.p12:pw', 'https://x.test/'],
    dialect: 'windows',
  },
  {
    name: 'an unquoted drive path means Windows',
    line: 'curl --cert C:\\c.pem https://x.test/',
    args: ['--cert', 'C:\\c.pem', 'https://x.test/'],
    dialect: 'windows',
  },
];

for (const c of cases) {
  test(`tokenize: ${c.name}`, () => {
    const t = tokenize(c.line, c.home !== undefined ? { home: c.home } : {});
    assert.deepEqual(t.args, c.args);
    if (c.program !== undefined) assert.equal(t.program, c.program);
    if (c.dialect !== undefined) assert.equal(t.dialect, c.dialect);
    if (c.note)
      assert.ok(
        t.notes.some((n) => c.note!.test(n)),
        `notes: ${JSON.stringify(t.notes)}`,
      );
  });
}

test('tokenize: the text after the command is returned as rest', () => {
  const t = tokenize(
    "curl -s u\nEnter PEM pass phrase:\ncurl: (58) unable to set private key file: 'k.pem' type PEM\n",
  );
  assert.match(t.rest, /^Enter PEM pass phrase:\ncurl: \(58\)/);
});

for (const [name, line, re] of [
  ['single', "curl --cert 'c.pem u", /unterminated single quote .*character 13/],
  ['double', 'curl -H "X: y u', /unterminated double quote/],
  ["$'", "curl -H $'abc", /unterminated \$'...' quote/],
  ['Windows double', 'curl.exe -H "X: y', /unterminated double quote/],
] as const) {
  test(`tokenize: an unterminated ${name} quote is a one-line usage error`, () => {
    assert.throws(
      () => tokenize(line),
      (e: unknown) => isUserError(e) && re.test(e.message) && !e.message.includes('\n'),
    );
  });
}

test('tokenize: a line that is not a curl command is refused', () => {
  assert.throws(
    () => tokenize('wget https://x.test/'),
    (e: unknown) => isUserError(e) && /does not start with curl/.test(e.message),
  );
});

test('an assignment before curl that looks like a secret is noted by name, its value never shown', () => {
  const t = tokenize(
    'API_TOKEN=t0ken-val env MY_PASSWORD=hunter2 AWS_SECRET_ACCESS_KEY=abc/def SSL_CERT_FILE=/x curl https://x.test/',
  );
  assert.deepEqual(t.args, ['https://x.test/']);
  const notes = t.notes.join('\n');
  for (const secret of ['t0ken-val', 'hunter2', 'abc/def'])
    assert.ok(!notes.includes(secret), `${secret} was shown: ${notes}`);
  assert.match(notes, /"API_TOKEN=\*\*\*" before curl was skipped/);
  assert.match(notes, /"SSL_CERT_FILE=\/x" before curl was skipped/, 'a path is still shown');
});
