import { Command } from 'commander';
import { resolveSettings } from '../../config/settings.js';
import type { CommandContext } from '../context.js';
import { EXIT, FatalError } from '../exit.js';
import { addSettings, portOption } from '../options.js';
import { CONNECTION_SETTINGS } from '../run-settings.js';

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

export function dashboardCommand(ctx: CommandContext): Command {
  const cmd = new Command('dashboard')
    .description('serve Bull Board (/queues, basic auth), Prometheus metrics (/metrics) and a health check (/healthz)')
    .addOption(portOption(3000))
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--no-auth', 'serve /queues without a password (loopback addresses only)')
    .option('--writable', 'allow retrying and removing jobs from Bull Board (read-only by default)');
  addSettings(cmd, CONNECTION_SETTINGS);
  return cmd
    .addHelpText(
      'after',
      `
/queues needs IMAP_GRANTS_DASHBOARD_USER and IMAP_GRANTS_DASHBOARD_PASSWORD; without them the dashboard
refuses to start, unless --no-auth is given on a loopback address.

Examples:
  $ IMAP_GRANTS_DASHBOARD_USER=ops IMAP_GRANTS_DASHBOARD_PASSWORD=... imap-grants dashboard --port 3000 --queue batch-7
  $ imap-grants dashboard --no-auth --queue batch-7          # 127.0.0.1 only`,
    )
    .action(async (opts: Record<string, unknown>) => {
      const s = resolveSettings(CONNECTION_SETTINGS, opts, process.env);
      const user = process.env.IMAP_GRANTS_DASHBOARD_USER;
      const password = process.env.IMAP_GRANTS_DASHBOARD_PASSWORD;
      const host = String(opts.host);
      let auth: { user: string; password: string } | undefined;
      if (user && password) auth = { user, password };
      else if (opts.auth !== false) {
        throw new FatalError('dashboard: set IMAP_GRANTS_DASHBOARD_USER and IMAP_GRANTS_DASHBOARD_PASSWORD, or pass --no-auth on a loopback address');
      } else if (!LOOPBACK.test(host)) {
        throw new FatalError(`dashboard: --no-auth is only allowed on a loopback address, not --host ${host}`);
      }
      const { createLogger } = await import('../../log.js');
      const { openRun } = await import('../../run/run-context.js');
      const { openControlQueue } = await import('../../schedule/control-queue.js');
      const { startDashboard } = await import('../../dashboard/server.js');
      const log = createLogger(s.logLevel);
      const h = await openRun(s.redisUrl, s.queue, log);
      const control = openControlQueue(h.redis, s.queue);
      try {
        const server = await startDashboard({ host, port: opts.port as number, redis: h.redis, queue: h.queue, controlQueue: control, ledger: h.ledger, auth, readOnly: opts.writable !== true, log });
        log.info({ event: 'dashboard:serving', url: server.url, auth: auth ? 'basic' : 'none', read_only: opts.writable !== true }, `dashboard on ${server.url}/queues`);
        await ctx.untilShutdown();
        await server.close();
        ctx.setExitCode(EXIT.ok);
      } finally {
        await control.close();
        await h.close();
      }
    });
}
