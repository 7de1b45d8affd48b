/**
 * The gateway's modules (undici, zod, yaml, pino: about 0.15 s of start-up), loaded by `serve` and `demo` when they
 * run, so that `doctor`, `inspect`, `truststore`, `pki` and `--help` do not pay for them.
 */
export async function gatewayModules() {
  const [config, log, server, echo] = await Promise.all([
    import('../gateway/config.js'),
    import('../gateway/log.js'),
    import('../gateway/server.js'),
    import('../gateway/echo.js'),
  ]);
  return { ...config, ...log, ...server, ...echo };
}
