/** `mtlsgate doctor`: explain why the gateway would accept or deny a client certificate, and how to fix it. */
import { Command, Option } from 'commander';
import type { CliContext } from './context.js';
import { wantsColor } from './io.js';
import { UserError } from '../errors.js';
import { hasErrors, runDoctor } from '../doctor/offline.js';
import { renderReport } from '../doctor/render-report.js';

interface DoctorOptions {
  cert?: string;
  key?: string;
  pass?: string;
  truststore?: string;
  json?: boolean;
  trustClientIntermediates?: boolean;
  at?: string;
}

export function doctorCommand(ctx: CliContext): Command {
  return new Command('doctor')
    .description('explain whether the gateway would accept a client certificate, and what to fix')
    .option('--cert <file[:pass]>', 'client certificate (PEM, DER, PKCS#12; curl\'s file:passphrase works)')
    .option('--key <file>', 'private key (omit when it is in the --cert file)')
    .addOption(new Option('--pass <passphrase>', 'passphrase for the key or PKCS#12 file'))
    .option('--truststore <file>', 'the CA bundle the gateway trusts (the PEM uploaded to S3)')
    .option('--trust-client-intermediates', 'let intermediates sent by the client close the path (API Gateway does not)')
    .option('--at <iso-date>', 'judge validity at this time instead of now (predicts; no handshake)')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', '\nExit status: 0 nothing is wrong, 1 the certificate would be denied or a check failed, 2 usage error.\n\nExample:\n  mtlsgate doctor --cert client.crt --key client.key --truststore truststore.pem')
    .action(async (o: DoctorOptions) => {
      if (o.cert === undefined && o.key === undefined && o.truststore === undefined) {
        throw new UserError('E_USAGE', 'doctor: give --cert (with --key and --truststore for a full diagnosis); see mtlsgate doctor --help');
      }
      let now: Date | undefined;
      if (o.at !== undefined) {
        now = new Date(o.at);
        if (Number.isNaN(now.getTime())) throw new UserError('E_USAGE', `--at: "${o.at}" is not a date (use ISO 8601, e.g. 2027-01-31T00:00:00Z)`);
      }
      const report = await runDoctor({
        ...(o.cert !== undefined && { cert: o.cert }),
        ...(o.key !== undefined && { key: o.key }),
        ...(o.pass !== undefined && { pass: o.pass }),
        ...(o.truststore !== undefined && { truststore: o.truststore }),
        ...(now !== undefined && { now }),
        policy: { trustClientIntermediates: o.trustClientIntermediates === true },
      });
      ctx.io.stdout.write(o.json ? JSON.stringify(report, null, 2) + '\n' : renderReport(report, { color: wantsColor(ctx.io) }));
      ctx.setExitCode(hasErrors(report) ? 1 : 0);
    });
}
