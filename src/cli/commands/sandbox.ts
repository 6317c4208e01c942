import { SANDBOX_DEFAULTS } from '../../sandbox/options.js';
import { Command, Option } from 'commander';
import { parseFaultMix, FAULT_KINDS } from '../../core/fault-mix.js';
import { EXIT, FatalError } from '../exit.js';
import { intArg, portOption } from '../options.js';
import type { CommandContext } from '../context.js';

export function sandboxCommand(ctx: CommandContext): Command {
  return new Command('sandbox')
    .description('serve a Nylas v3-compatible API locally that performs real IMAP and SMTP logins')
    .addOption(portOption(SANDBOX_DEFAULTS.port))
    .option('--host <host>', 'address to listen on', SANDBOX_DEFAULTS.host)
    .addOption(new Option('--api-key <key>', 'API key clients must send (env NYLAS_API_KEY; default "sandbox")'))
    .option('--rate <n>', 'requests per second per application before 429', intArg(1), SANDBOX_DEFAULTS.rate)
    .option('--latency <ms>', 'every API answer takes at least this many ms (logins run within it)', intArg(0), 0)
    .option('--faults <mix>', `seeded fault mix, e.g. 504:0.1,429:0.05 (kinds: ${Object.keys(FAULT_KINDS).join(', ')})`, '')
    .option('--seed <n>', 'seed of the fault mix', intArg(0), 1)
    .option('--provider-timeout <ms>', 'deadline for one IMAP/SMTP login before 504', intArg(100), SANDBOX_DEFAULTS.providerTimeoutMs)
    .option('--auth-limit-window <ms>', 'window of the 3-failed-logins lockout', intArg(1), SANDBOX_DEFAULTS.authLimitWindowMs)
    .option('--no-require-connector', 'allow custom auth before an IMAP connector exists')
    .option('--insecure-tls', 'accept self-signed certificates from mail servers')
    .option('--demo-mail', 'also start the demo IMAP and SMTP servers')
    .option('--demo-imap-port <port>', 'port of the demo IMAP server', intArg(0, 65535), 3143)
    .option('--demo-smtp-port <port>', 'port of the demo SMTP server', intArg(0, 65535), 3025)
    .addHelpText(
      'after',
      `
Examples:
  $ imap-grants sandbox
  $ imap-grants sandbox --demo-mail --latency 200 --faults 504:0.1,429:0.05,502html:0.02,reset:0.01,hang:0.01
  $ NYLAS_API_KEY=dev imap-grants sandbox --port 4100 --rate 50

Admin endpoints (Bearer key required):
  POST /__sandbox/grants/<id>/invalidate   mark a grant invalid
  GET  /__sandbox/stats                    request, fault and 429 counts
  POST /__sandbox/reset                    forget all grants and connectors`,
    )
    .action(async (o) => {
      // Loaded when the command runs, so --help and other commands start fast.
      const { startDemoMailServers } = await import('../../demo/mail-servers.js');
      const { createLogger } = await import('../../log.js');
      const { startSandbox } = await import('../../sandbox/server.js');
      const log = createLogger(process.env.LOG_LEVEL ?? 'info');
      const faults = parseFaultMix(o.faults);
      if (!faults.ok) throw new FatalError(faults.error);
      const apiKey: string = o.apiKey ?? process.env.NYLAS_API_KEY ?? 'sandbox';
      const mail = o.demoMail ? await startDemoMailServers({ host: o.host, imapPort: o.demoImapPort, smtpPort: o.demoSmtpPort }) : undefined;
      const sandbox = await startSandbox({
        port: o.port,
        host: o.host,
        apiKey,
        rate: o.rate,
        latencyMs: o.latency,
        faults: faults.value,
        seed: o.seed,
        providerTimeoutMs: o.providerTimeout,
        authLimitWindowMs: o.authLimitWindow,
        requireConnector: o.requireConnector,
        rejectUnauthorized: !o.insecureTls,
        logger: log,
      });
      log.info(
        {
          url: sandbox.url,
          rate: o.rate,
          latencyMs: o.latency,
          faults: o.faults || undefined,
          apiKey: apiKey === 'sandbox' ? 'sandbox (default)' : undefined,
          demoImap: mail ? `${mail.host}:${mail.imapPort}` : undefined,
          demoSmtp: mail ? `${mail.host}:${mail.smtpPort}` : undefined,
        },
        'sandbox: serving',
      );
      await ctx.untilShutdown();
      await sandbox.close();
      await mail?.close();
      ctx.setExitCode(EXIT.ok);
    });
}
