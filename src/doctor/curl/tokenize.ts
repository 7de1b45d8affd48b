/**
 * Split a pasted curl command line into the arguments curl would receive, the way a shell would, without ever
 * evaluating anything: no variables, no command substitution, no globbing. What a shell would have done and we
 * did not is reported as a note.
 *
 * POSIX (sh, bash, zsh): '...' literal; "..." with \ escaping $ ` " \ and newline; $'...' ANSI-C escapes; \x outside
 * quotes; \ + newline joins lines; # at a word's start starts a comment; an unquoted newline, ;, |, & or && ends the
 * command; redirections (> f, 2>&1) are dropped; a leading ~ or ~/ is the home directory.
 * Windows (cmd.exe, PowerShell; chosen when the command is curl.exe, a Windows prompt or `^` / backtick line
 * continuations are seen, or a path starts with a drive letter): backslashes are literal, "..." and '...' quote,
 * ^ or ` at the end of a line joins lines.
 */
import { UserError } from '../../errors.js';
import { firstItems } from '../../report/text.js';

export type Dialect = 'posix' | 'windows';

export interface Tokenized {
  /**
   * The program word as written (`curl`, `/usr/bin/curl`, `curl.exe`), null when the line starts with an option or URL.
   */
  program: string | null;
  /** curl's arguments, in order. */
  args: string[];
  dialect: Dialect;
  /** What a shell would have done that we did not (expansions, redirections, a command cut at `|`). */
  notes: string[];
  /** Text after the end of the command (e.g. curl's own output pasted with it); '' when none. */
  rest: string;
}

export interface TokenizeOptions {
  dialect?: Dialect;
  /** Home directory for a leading unquoted `~`; default: `~` stays as written. */
  home?: string;
}

const PROMPT = /^[ \t]*(?:\$|%|>|#(?=[ \t]+\S*curl)|PS [^\n>]*>|[A-Za-z]:\\[^\n>]*>)[ \t]+/;
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;
const WRAPPERS = new Set(['sudo', 'command', 'exec', 'time', 'env', 'nohup']);

export function tokenize(text: string, opts: TokenizeOptions = {}): Tokenized {
  let line = text.replace(/\r\n?/g, '\n').replace(/^\s*\n/, '');
  const prompt = PROMPT.exec(line);
  if (prompt) line = line.slice(prompt[0].length);
  const dialect = opts.dialect ?? detectDialect(line, prompt?.[0] ?? '');
  const notes: string[] = [];
  const { words, rest } = dialect === 'windows' ? splitWindows(line, notes) : splitPosix(line, notes, opts.home);
  let i = 0;
  while (i < words.length && (ASSIGNMENT.test(words[i]!) || WRAPPERS.has(words[i]!))) {
    notes.push(`"${maskAssignment(words[i]!)}" before curl was skipped`);
    i++;
  }
  let program: string | null = null;
  const first = words[i];
  if (first !== undefined && /^curl(\.exe)?$/i.test(first.split(/[\\/]/).pop() ?? '')) {
    program = first;
    i++;
  } else if (first !== undefined && !first.startsWith('-') && !/^[a-z][a-z0-9+.-]*:\/\//i.test(first)) {
    throw new UserError(
      'E_CURL_LINE',
      `the pasted line does not start with curl (first word: ${JSON.stringify(first.slice(0, 40))})`,
    );
  }
  return { program, args: words.slice(i), dialect, notes: capNotes(notes), rest: rest.trim() };
}

const MAX_NOTES = 20;

/** One note per distinct thing, at most MAX_NOTES: a pasted line with 200,000 redirections gets a short report. */
function capNotes(notes: string[]): string[] {
  return firstItems([...new Set(notes)], MAX_NOTES, ' notes like these');
}

/** `TOKEN=...` pasted before curl: the name stays, a value that looks like a secret (by its name) is not shown. */
function maskAssignment(word: string): string {
  const eq = word.indexOf('=');
  return eq > 0 && /pass|pwd|secret|token|key|auth|cred/i.test(word.slice(0, eq)) ? `${word.slice(0, eq)}=***` : word;
}

function detectDialect(line: string, prompt: string): Dialect {
  if (/^(PS |[A-Za-z]:\\)/.test(prompt.trim())) return 'windows';
  if (/^\s*(?:\S*[\\/])?curl\.exe(\s|$)/i.test(line)) return 'windows';
  if (/[ \t][\^`][ \t]*\n/.test(line)) return 'windows';
  if (/(^|[ \t])[A-Za-z]:\\/.test(line.split('\n')[0] ?? '')) return 'windows';
  return 'posix';
}

interface Split {
  words: string[];
  rest: string;
}

/** One word builder: `has` tells an empty quoted word ('') from no word at all. */
class Words {
  readonly words: string[] = [];
  cur = '';
  has = false;
  add(s: string): void {
    this.cur += s;
    this.has = true;
  }
  end(): void {
    if (this.has) this.words.push(this.cur);
    this.cur = '';
    this.has = false;
  }
}

function unterminated(kind: string, at: number): never {
  throw new UserError(
    'E_CURL_LINE',
    `unterminated ${kind} in the curl command (opened at character ${at + 1}); close it or paste the whole command`,
  );
}

function splitPosix(s: string, notes: string[], home: string | undefined): Split {
  const w = new Words();
  let i = 0;
  const expansion = (what: string): void => {
    const note = `${what} is not expanded: mtlsgate never evaluates the command line`;
    if (!notes.includes(note)) notes.push(note);
  };
  while (i < s.length) {
    const c = s[i]!;
    if (c === ' ' || c === '\t') {
      w.end();
      i++;
    } else if (c === '\n') {
      w.end();
      return { words: w.words, rest: s.slice(i + 1) };
    } else if (c === '\\') {
      if (s[i + 1] === '\n') i += 2;
      else if (i + 1 < s.length) {
        if (s[i + 1] === ':') {
          const note =
            'an unquoted \\: reaches curl as a plain ":" (the shell eats the backslash): to escape a colon in --cert for curl, quote it (\'a\\:b.pem\') or write a\\\\:b.pem';
          if (!notes.includes(note)) notes.push(note);
        }
        w.add(s[i + 1]!);
        i += 2;
      } else {
        w.add('\\');
        i++;
      }
    } else if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end < 0) unterminated('single quote', i);
      w.add(s.slice(i + 1, end));
      i = end + 1;
    } else if (c === '"') {
      i = doubleQuoted(s, i, w, expansion);
    } else if (c === '$' && s[i + 1] === "'") {
      i = ansiC(s, i, w);
    } else if (c === '$' && s[i + 1] === '"') {
      i++; // $"..." is a translatable string: the same as "..." here
    } else if (c === '#' && !w.has) {
      const nl = s.indexOf('\n', i);
      if (nl < 0) return { words: w.words, rest: '' };
      i = nl;
    } else if (c === ';' || c === '|' || c === '&') {
      if (c === '&' && s[i + 1] === '>') {
        i = redirect(s, i, w, notes);
        continue;
      }
      w.end();
      const op = /^(\|\||&&|;;|[;|&])/.exec(s.slice(i))![1]!;
      notes.push(
        op === '&'
          ? 'an unquoted & ends the command (a shell runs it in the background): quote URLs that contain &'
          : `the command ends at "${op}"; what follows was not read`,
      );
      return { words: w.words, rest: s.slice(i + op.length) };
    } else if (c === '<' || c === '>') {
      i = redirect(s, i, w, notes);
    } else if (c === '~' && !w.has && (s[i + 1] === undefined || /[\s/]/.test(s[i + 1]!))) {
      if (home === undefined) w.add('~');
      else {
        w.add(home);
        notes.push(`~ was read as the home directory ${home}, as the shell would`);
      }
      i++;
    } else {
      if (c === '$' && /[A-Za-z_{(]/.test(s[i + 1] ?? ''))
        expansion(s[i + 1] === '(' ? '$(...)' : `$${/^\$\{?([A-Za-z_][A-Za-z0-9_]*)/.exec(s.slice(i))?.[1] ?? ''}`);
      if (c === '`') expansion('`...`');
      w.add(c);
      i++;
    }
  }
  w.end();
  return { words: w.words, rest: '' };
}

function doubleQuoted(s: string, start: number, w: Words, expansion: (what: string) => void): number {
  let i = start + 1;
  let out = '';
  while (i < s.length && s[i] !== '"') {
    const c = s[i]!;
    if (c === '\\' && i + 1 < s.length) {
      const n = s[i + 1]!;
      if (n === '\n') {
        i += 2;
        continue;
      }
      out += '$`"\\'.includes(n) ? n : '\\' + n;
      i += 2;
      continue;
    }
    if (c === '$' && /[A-Za-z_{(]/.test(s[i + 1] ?? ''))
      expansion(s[i + 1] === '(' ? '$(...)' : `$${/^\$\{?([A-Za-z_][A-Za-z0-9_]*)/.exec(s.slice(i))?.[1] ?? ''}`);
    if (c === '`') expansion('`...`');
    out += c;
    i++;
  }
  if (i >= s.length) unterminated('double quote', start);
  w.add(out);
  return i + 1;
}

const C_ESCAPES: Record<string, string> = {
  a: '\x07',
  b: '\b',
  e: '\x1b',
  E: '\x1b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
  "'": "'",
  '"': '"',
  '?': '?',
};

/** bash's $'...': backslash escapes, nothing else. */
function ansiC(s: string, start: number, w: Words): number {
  let i = start + 2;
  let out = '';
  while (i < s.length && s[i] !== "'") {
    if (s[i] !== '\\' || i + 1 >= s.length) {
      out += s[i++];
      continue;
    }
    const n = s[i + 1]!;
    const rest = s.slice(i + 2);
    let m: RegExpExecArray | null;
    if (C_ESCAPES[n] !== undefined) {
      out += C_ESCAPES[n];
      i += 2;
    } else if ((m = /^[0-7]{0,2}/.exec(rest)) && /[0-7]/.test(n)) {
      out += String.fromCharCode(parseInt(n + m[0], 8));
      i += 2 + m[0].length;
    } else if (n === 'x' && (m = /^[0-9a-fA-F]{1,2}/.exec(rest))) {
      out += String.fromCharCode(parseInt(m[0], 16));
      i += 2 + m[0].length;
    } else if ((n === 'u' || n === 'U') && (m = (n === 'u' ? /^[0-9a-fA-F]{1,4}/ : /^[0-9a-fA-F]{1,8}/).exec(rest))) {
      out += String.fromCodePoint(Math.min(parseInt(m[0], 16), 0x10ffff));
      i += 2 + m[0].length;
    } else {
      out += '\\' + n;
      i += 2;
    }
  }
  if (i >= s.length) unterminated("$'...' quote", start);
  w.add(out);
  return i + 1;
}

/** `>f`, `>> f`, `2>&1`, `< f`, `&> f`: dropped, with a note. A word of digits right before it is the fd. */
function redirect(s: string, start: number, w: Words, notes: string[]): number {
  if (w.has && /^\d+$/.test(w.cur)) {
    w.cur = '';
    w.has = false;
  }
  w.end();
  const op = /^(&>>?|>>|>&|>\||<<<|<<|<&|<>|>|<)/.exec(s.slice(start))![1]!;
  let i = start + op.length;
  while (s[i] === ' ' || s[i] === '\t') i++;
  const target = /^[^\s;|&<>]*/.exec(s.slice(i))![0];
  notes.push(`redirection "${op}${target ? ' ' + target : ''}" is the shell's, not curl's; ignored`);
  return i + target.length;
}

function splitWindows(s: string, notes: string[]): Split {
  const w = new Words();
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    const joinsLine = (c === '^' || c === '`') && /^[ \t]*\n/.test(s.slice(i + 1));
    if (joinsLine) {
      i = s.indexOf('\n', i) + 1;
    } else if (c === ' ' || c === '\t') {
      w.end();
      i++;
    } else if (c === '\n') {
      w.end();
      return { words: w.words, rest: s.slice(i + 1) };
    } else if (c === '^' || c === '`') {
      if (i + 1 < s.length) w.add(s[i + 1]!);
      i += 2;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      let out = '';
      while (j < s.length && s[j] !== c) {
        if (c === '"' && s[j] === '\\' && s[j + 1] === '"') {
          out += '"';
          j += 2;
        } else out += s[j++];
      }
      if (j >= s.length) unterminated(c === '"' ? 'double quote' : 'single quote', i);
      w.add(out);
      i = j + 1;
    } else if (c === '|' || c === '&' || c === ';') {
      w.end();
      const op = /^(\|\||&&|[;|&])/.exec(s.slice(i))![1]!;
      notes.push(`the command ends at "${op}"; what follows was not read`);
      return { words: w.words, rest: s.slice(i + op.length) };
    } else if (c === '<' || c === '>') {
      i = redirect(s, i, w, notes);
    } else {
      if (c === '%' && /^%[A-Za-z_][A-Za-z0-9_]*%/.test(s.slice(i)))
        notes.push(`${/^%[^%]+%/.exec(s.slice(i))![0]} is not expanded: mtlsgate never evaluates the command line`);
      if (c === '$' && /^\$(env:)?[A-Za-z_]/.test(s.slice(i)))
        notes.push(
          `${/^\$(env:)?[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(i))![0]} is not expanded: mtlsgate never evaluates the command line`,
        );
      w.add(c);
      i++;
    }
  }
  w.end();
  return { words: w.words, rest: '' };
}
