/**
 * `mtlsgate demo`: the gateway on an embedded default, with nothing else to set up. Makes a demo PKI if none
 * exists, runs a built-in echo backend, serves https://mtls.example.test:8443 on 127.0.0.1 with revocation by the
 * demo CAs' CRLs, and prints a curl command that is accepted, two that are denied (a self-signed certificate, a
 * revoked one), and the doctor commands that explain the denials. Two more routes show API Gateway emulation:
 * /public takes no certificate, /orders runs a Lambda authorizer and a Lambda handler from the demo directory.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { Command } from 'commander';
import type { CliContext } from './context.js';
import { UserError } from '../errors.js';
import { gatewayModules } from './gateway-modules.js';
import { waitForSignals } from './signals.js';
import { runSelftest } from './demo-selftest.js';

export const DEMO_DOMAIN = 'mtls.example.test';

export function demoCommand(ctx: CliContext): Command {
  return new Command('demo')
    .description('run the gateway on a demo PKI with a built-in echo backend (no other set-up)')
    .option('--dir <dir>', 'where the demo PKI lives (made if missing)', 'demo')
    .option('--port <port>', 'gateway port on 127.0.0.1', '8443')
    .option('--admin-port <port>', 'admin port on 127.0.0.1', '9901')
    .option('--selftest', 'send the accepted and denied requests itself, print the results and exit')
    .action(async (o: { dir: string; port: string; adminPort: string; selftest?: boolean }) => {
      const port = parsePort(o.port, '--port');
      const adminPort = parsePort(o.adminPort, '--admin-port');
      const [gateway, generator] = await Promise.all([gatewayModules(), import('../pki/generate.js')]);
      const { configSchema, startEcho, makeLogger, startGateway, GatewayStartError } = gateway;
      const { initPki, pkiFiles } = generator;
      const dir = resolve(o.dir);
      const files = pkiFiles(dir);
      // A demo PKI from before revocation has no CA database: made again.
      if (!existsSync(files.truststore) || !existsSync(files.index)) {
        await initPki(dir, { domain: DEMO_DOMAIN, force: true });
        ctx.io.stdout.write(`made a demo PKI in ${rel(dir)}\n`);
      }
      const revoked = await ensureRevokedClient(dir);
      const lambda = await ensureLambdaFiles(dir);
      const echo = await startEcho();
      const cfg = configSchema.parse({
        listen: { host: '127.0.0.1', port },
        admin: { host: '127.0.0.1', port: adminPort },
        logs: { format: o.selftest ? 'json' : 'pretty', level: o.selftest ? 'warn' : 'info' },
        authorizers: [
          {
            name: 'demoAuth',
            handler: `${lambda.authorizer}#handler`,
            identitySource: ['$request.header.x-demo-token'],
            authorizerResultTtlInSeconds: 60,
          },
        ],
        domains: [
          {
            domainName: DEMO_DOMAIN,
            certificate: { cert: files.serverCert, key: files.serverKey },
            mutualTls: {
              truststoreUri: `file://${files.truststore}`,
              exposeReason: true,
              // Each route decides: / wants a verified certificate, /public none, /orders one and the authorizer.
              clientCertificate: 'optional',
              revocation: { mode: 'crl', crl: { sources: [`file://${files.intermediateCrl}`] } },
            },
            basePathMappings: [
              { basePath: '(none)', target: echo.url, clientCertificate: 'required' },
              { basePath: 'public', target: echo.url, clientCertificate: 'none' },
              {
                basePath: 'orders',
                target: `lambda:${lambda.app}#handler`,
                payloadFormatVersion: '2.0',
                clientCertificate: 'required',
                authorizer: 'demoAuth',
              },
            ],
          },
        ],
      });
      const log = makeLogger(cfg.logs.format, cfg.logs.level, o.selftest ? process.stderr : process.stdout);
      let gw;
      try {
        gw = await startGateway(cfg, log);
      } catch (e) {
        await echo.close();
        if (e instanceof GatewayStartError)
          throw new UserError('E_START', `demo: ${e.message} (try --port and --admin-port)`);
        throw e;
      }
      const gport = gw.address().port;
      const curl = (cert: string, key: string): string =>
        `curl --resolve ${DEMO_DOMAIN}:${gport}:127.0.0.1 --cacert ${rel(files.rootCert)} --cert ${rel(cert)} --key ${rel(key)} https://${DEMO_DOMAIN}:${gport}/hello`;
      const out = ctx.io.stdout;
      const admin = `http://127.0.0.1:${gw.adminAddress()?.port}`;
      out.write(
        `\nmtlsgate demo: https://${DEMO_DOMAIN}:${gport} on 127.0.0.1 -> echo backend ${echo.url}; admin ${admin}/readyz\n`,
      );
      out.write(`dashboard: ${admin}/ui (domains, truststore expiry, recent denials with their fix)\n`);
      out.write(`truststore: ${rel(files.truststore)} (demo root + intermediate CA)\n`);
      out.write(`revocation: ${rel(files.intermediateCrl)} (the intermediate CA's CRL)\n\n`);
      out.write(`Accepted (client.crt is issued by the demo CA):\n  ${curl(files.clientCert, files.clientKey)}\n\n`);
      out.write(
        `Denied with 403 "Access denied. Reason: self-signed certificate" (self-signed.crt is not in the truststore):\n  ${curl(files.selfSignedCert, files.selfSignedKey)}\n\n`,
      );
      out.write(
        `Why it was denied, and the fix:\n  node bin/mtlsgate.js doctor --cert ${rel(files.selfSignedCert)} --key ${rel(files.selfSignedKey)} --truststore ${rel(files.truststore)}\n\n`,
      );
      out.write(
        `Denied with 403 "Access denied. Reason: certificate revoked" (revoked.crt is on the intermediate's CRL):\n  ${curl(revoked.cert, revoked.key)}\n\n`,
      );
      const base = `curl --resolve ${DEMO_DOMAIN}:${gport}:127.0.0.1 --cacert ${rel(files.rootCert)}`;
      const auth = `--cert ${rel(files.clientCert)} --key ${rel(files.clientKey)}`;
      out.write(
        `No certificate needed on /public (clientCertificate: none):\n  ${base} https://${DEMO_DOMAIN}:${gport}/public/hello\n\n`,
      );
      out.write(
        `/orders: the certificate, then a Lambda authorizer (${rel(lambda.authorizer)}) wanting x-demo-token: letmein, ` +
          `then a Lambda handler (${rel(lambda.app)}) with API Gateway's events:\n` +
          `  ${base} ${auth} -H 'x-demo-token: letmein' https://${DEMO_DOMAIN}:${gport}/orders/42\n` +
          `  ${base} ${auth} https://${DEMO_DOMAIN}:${gport}/orders/42   # 401 Unauthorized: no token\n\n`,
      );
      out.write(
        `When and why it was revoked:\n  node bin/mtlsgate.js doctor --cert ${rel(revoked.cert)} --key ${rel(revoked.key)} --truststore ${rel(files.truststore)} --crl ${rel(files.intermediateCrl)}\n\n`,
      );
      if (o.selftest) {
        const ok = await runSelftest(ctx.io, { port: gport, domain: DEMO_DOMAIN, files, revoked });
        await gw.close(1000);
        await echo.close();
        ctx.setExitCode(ok ? 0 : 1);
        return;
      }
      out.write('Ctrl-C stops it. Logs follow.\n\n');
      await waitForSignals(gw, log);
      await echo.close();
    });
}

/**
 * The demo's revoked client (revoked.crt/.key, issued by the intermediate and revoked for keyCompromise), made once;
 * the CRLs are issued again at every start so they never pass their nextUpdate.
 */
async function ensureRevokedClient(dir: string): Promise<{ cert: string; key: string }> {
  const { issue, loadPki } = await import('../pki/generate.js');
  const { revokeInPki, writeCrls } = await import('../pki/generate-revocation.js');
  const cert = join(dir, 'revoked.crt');
  const key = join(dir, 'revoked.key');
  const pki = await loadPki(dir);
  if (existsSync(cert) && existsSync(key)) {
    await writeCrls(pki);
    return { cert, key };
  }
  const leaf = await issue({ subject: 'CN=demo revoked client', profile: 'client', issuer: pki.intermediate });
  await writeFile(key, leaf.keyPem, { mode: 0o600 });
  await writeFile(cert, leaf.certPem);
  await revokeInPki(pki, { cert: leaf.der, certPath: cert, reason: 'keyCompromise' });
  return { cert, key };
}

/** The demo's Lambda authorizer and handler, written once into the demo directory for the user to read and change. */
async function ensureLambdaFiles(dir: string): Promise<{ authorizer: string; app: string }> {
  const authorizer = join(dir, 'authorizer.mjs');
  const app = join(dir, 'app.mjs');
  if (!existsSync(authorizer)) await writeFile(authorizer, DEMO_AUTHORIZER);
  if (!existsSync(app)) await writeFile(app, DEMO_APP);
  return { authorizer, app };
}

/** A REQUEST authorizer (payload 1.0) as API Gateway runs one: the client certificate is in requestContext.identity. */
const DEMO_AUTHORIZER = `// mtlsgate demo: a Lambda REQUEST authorizer, run by the gateway as API Gateway would run it.
export const handler = async (event) => {
  const cert = event.requestContext.identity.clientCert;
  const token = event.headers['x-demo-token'] ?? event.headers['X-Demo-Token'];
  const effect = token === 'letmein' ? 'Allow' : 'Deny';
  return {
    principalId: cert ? cert.subjectDN : 'anonymous',
    policyDocument: {
      Version: '2012-10-17',
      Statement: [{ Action: 'execute-api:Invoke', Effect: effect, Resource: event.methodArn }],
    },
    context: { certSerial: cert ? cert.serialNumber : 'none' },
  };
};
`;

/** A Lambda proxy handler (payload 2.0): what the authorizer said and the client certificate come in the event. */
const DEMO_APP = `// mtlsgate demo: a Lambda handler behind the gateway, with API Gateway's HTTP API (2.0) event.
export const handler = async (event) => ({
  statusCode: 200,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({
    order: event.rawPath.split('/').pop(),
    authorizer: event.requestContext.authorizer,
    clientCert: event.requestContext.authentication?.clientCert.subjectDN ?? null,
  }),
});
`;

function parsePort(s: string, flag: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new UserError('E_BAD_PORT', `${flag}: "${s}" is not a port number`);
  return n;
}

function rel(p: string): string {
  const r = relative(process.cwd(), p);
  return r.startsWith('..') ? p : r || '.';
}
