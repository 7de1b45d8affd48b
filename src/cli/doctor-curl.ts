/**
 * `mtlsgate doctor curl`: diagnose a failing curl command. Attached under `doctor` by src/cli/doctor.ts.
 *
 *   mtlsgate doctor curl [--error MSG] [--exit-code N] [--truststore F] [--no-live] [--json] -- <curl arguments>
 *   mtlsgate doctor curl --line "curl --cert ... https://..."      (--line - reads the line from stdin)
 */
import { Command } from 'commander';
import type { CliContext } from './context.js';
import { wantsColor } from './io.js';
import { UserError } from '../errors.js';
import type { CurlDoctorInput } from '../doctor/curl/run.js';
import { hasErrors } from '../doctor/diagnose.js';
import { requireNonEmptyPath } from './paths.js';
import { parseTimeout } from './timeout.js';

interface CurlOptions {
  line?: string;
  error?: string;
  exitCode?: string;
  truststore?: string;
  live: boolean;
  timeout?: string;
  json?: boolean;
}

/** Options of ours that the parent `doctor` also defines, and may have taken first (commander parses parents first). */
const SHARED = ['json', 'truststore', 'timeout'] as const;
const MAX_STDIN = 1 << 20;

export function doctorCurlCommand(ctx: CliContext): Command {
  const cmd = new Command('curl')
    .description("diagnose a failing curl command: its files, its error, the gateway's verdict and the live endpoint")
    .usage('[options] -- <curl arguments>  |  --line "<curl command>"')
    .option(
      '--line <command>',
      'the whole curl command as pasted (quotes, \\ line breaks and all); - reads it from stdin',
    )
    .option(
      '--error <message>',
      "curl's error, e.g. \"curl: (58) unable to set private key file: 'client.key' type PEM\"",
    )
    .option('--exit-code <n>', "curl's exit code")
    .option('--truststore <file>', 'the CA bundle the gateway trusts: adds the offline verdict')
    .option('--no-live', 'do not connect to the endpoint')
    .option('--timeout <seconds>', "time limit for the live probe (default: curl's -m, else 10)")
    .option('--json', 'print the report as JSON (passphrases as "***")')
    .allowUnknownOption()
    .allowExcessArguments()
    .addHelpText(
      'after',
      [
        '',
        'Exit status: 0 nothing is wrong, 1 curl would fail or the certificate would be denied, 2 usage error.',
        '',
        'Examples:',
        '  mtlsgate doctor curl --error "curl: (58) could not load PEM client certificate ..." -- --cert client.crt --key client.key https://api.example.com/',
        '  mtlsgate doctor curl --truststore truststore.pem --line "curl -v --cert client.crt --key client.key https://api.example.com/"',
        "  pbpaste | mtlsgate doctor curl --line -     # the command, and curl's output after it",
      ].join('\n'),
    )
    .action(async (own: CurlOptions, self: Command) => {
      const o = withParentOptions(own, self);
      requireNonEmptyPath('--truststore', o.truststore);
      const input: CurlDoctorInput = {
        ...(o.line !== undefined && { line: o.line === '-' ? await readStdin(ctx) : o.line }),
        args: self.args,
        ...(o.error !== undefined && { error: o.error }),
        ...(o.exitCode !== undefined && { exitCode: parseExitCode(o.exitCode) }),
        ...(o.truststore !== undefined && { truststore: o.truststore }),
        live: o.live,
        ...(o.timeout !== undefined && { timeoutMs: parseTimeout(o.timeout) }),
        ...(ctx.io.env.HOME !== undefined && { home: ctx.io.env.HOME }),
      };
      // Loaded when run: `doctor --cert ...` registers this subcommand without loading curl's parser and checks.
      const [{ runCurlDoctor, toJson }, { renderCurlReport }] = await Promise.all([
        import('../doctor/curl/run.js'),
        import('../doctor/curl/render.js'),
      ]);
      const report = await runCurlDoctor(input);
      ctx.io.stdout.write(
        o.json
          ? JSON.stringify(toJson(report), null, 2) + '\n'
          : renderCurlReport(report, { color: wantsColor(ctx.io) }),
      );
      ctx.setExitCode(hasErrors(report.report) ? 1 : 0);
    });
  return cmd;
}

/**
 * The parent `doctor` parses its own options wherever they appear, so `doctor curl --json` may land in the parent's
 * --json: take those. Any other parent option set on the command line means curl's options were given without `--`.
 */
function withParentOptions(own: CurlOptions, self: Command): CurlOptions {
  const parent = self.parent;
  if (!parent) return own;
  const merged: CurlOptions = { ...own };
  for (const opt of parent.options) {
    const name = opt.attributeName();
    if (parent.getOptionValueSource(name) !== 'cli') continue;
    if ((SHARED as readonly string[]).includes(name)) {
      if (merged[name as (typeof SHARED)[number]] === undefined)
        (merged as unknown as Record<string, unknown>)[name] = parent.getOptionValue(name);
      continue;
    }
    throw new UserError(
      'E_USAGE',
      `doctor curl: put curl's options after -- (${opt.long ?? opt.short} was read as an option of mtlsgate doctor): mtlsgate doctor curl [options] -- <curl arguments>`,
    );
  }
  return merged;
}

/** A plain decimal 0-255 only: Number() would also take "1e2", "0x3a", " 58" and "" (as 100, 58, 58 and 0). */
function parseExitCode(s: string): number {
  const n = /^[0-9]+$/.test(s) ? Number(s) : NaN;
  if (!(n >= 0 && n <= 255)) throw new UserError('E_BAD_EXIT_CODE', `--exit-code: "${s}" is not an exit code (0-255)`);
  return n;
}

async function readStdin(ctx: CliContext): Promise<string> {
  const stdin = (ctx.io as { stdin?: NodeJS.ReadableStream }).stdin ?? process.stdin;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += b.length;
    if (size > MAX_STDIN)
      throw new UserError('E_STDIN', '--line -: more than 1 MiB on stdin; paste only the curl command (and its error)');
    chunks.push(b);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw new UserError('E_STDIN', '--line -: nothing on stdin; pipe the curl command in');
  return text;
}
