import { Command, Option } from 'commander';
import { resolveSettings } from '../../config/settings.js';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit.js';
import { addSettings, intArg } from '../options.js';
import { ROW_DEFAULT_SETTINGS, rowDefaults } from '../run-settings.js';
import { warnIfShared } from './run.js';

export function checkCommand(ctx: CommandContext): Command {
  const cmd = new Command('check')
    .description('preflight: log in to every mailbox\'s IMAP (and SMTP) server directly, without Nylas, and say which rows would fail')
    .argument('<csv>', 'CSV of mailboxes, as for run')
    .requiredOption('--out <dir>', 'directory for check.csv')
    .addOption(new Option('--concurrency <n>', 'logins in flight in total').argParser(intArg(1)).default(20))
    .addOption(new Option('--per-host-concurrency <n>', 'logins in flight per mail host').argParser(intArg(1)).default(5))
    .addOption(new Option('--login-timeout <ms>', 'overall deadline of one login').argParser(intArg(1)).default(15_000))
    .option('--insecure-tls', 'accept self-signed certificates');
  addSettings(cmd, [...ROW_DEFAULT_SETTINGS, 'logLevel']);
  return cmd
    .addHelpText(
      'after',
      `
Each mailbox gets exactly one login attempt per protocol (no retries: retried wrong passwords lock mailboxes).
Results, by the server's response code: ok, AUTHENTICATIONFAILED (wrong credentials), UNAVAILABLE (temporary),
timeout, TLS, DNS, refused, other. Exit codes: 0 all would pass; 2 some would fail; 1 fatal.

Example:
  $ imap-grants check mailboxes.csv --out preflight/ --per-host-concurrency 3`,
    )
    .action(async (csv: string, opts: Record<string, unknown>) => {
      // Loaded when the command runs, so --help and other commands start fast.
      const { createLogger } = await import('../../log.js');
      const { preflightCheck } = await import('../../run/preflight-check.js');
      const s = resolveSettings([...ROW_DEFAULT_SETTINGS, 'logLevel'], opts, process.env);
      const log = createLogger(s.logLevel);
      warnIfShared(csv, log);
      const r = await preflightCheck({
        csvPath: csv,
        outDir: String(opts.out),
        defaults: rowDefaults(s),
        log,
        concurrency: opts.concurrency as number,
        perHostConcurrency: opts.perHostConcurrency as number,
        loginTimeoutMs: opts.loginTimeout as number,
        rejectUnauthorized: opts.insecureTls !== true,
        signal: ctx.shutdown,
      });
      const classes = Object.entries(r.byClass).map(([k, v]) => `${k} ${v}`).join(', ');
      ctx.out.write(
        `Checked ${r.checked} mailbox(es): ${r.ok} ok, ${r.wouldFail} would fail${classes ? ` (${classes})` : ''}; ${r.rejected} row(s) rejected\n  ${r.path}\n`,
      );
      ctx.setExitCode(r.wouldFail + r.rejected > 0 ? EXIT.incomplete : EXIT.ok);
    });
}
