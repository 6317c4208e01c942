import { Command } from 'commander';
import { resolveSettings } from '../../config/settings.js';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit.js';
import { addSettings } from '../options.js';
import { CONNECTION_SETTINGS } from '../run-settings.js';

export function statusCommand(ctx: CommandContext): Command {
  const cmd = new Command('status').description('where a run stands: counts by state, rate, ETA and top error types').option('--json', 'print JSON');
  addSettings(cmd, CONNECTION_SETTINGS);
  return cmd
    .addHelpText('after', '\nWorks for a run in progress or finished, from any machine that reaches its Redis.\n\nExamples:\n  $ imap-grants status --queue batch-7\n  $ imap-grants status --queue batch-7 --json | jq .eta_s')
    .action(async (opts: Record<string, unknown>) => {
      const { openRun } = await import('../../run/run-context.js');
      const { readRunStatus, formatStatus } = await import('../../run/run-status.js');
      const { createLogger } = await import('../../log.js');
      const s = resolveSettings(CONNECTION_SETTINGS, opts, process.env);
      const h = await openRun(s.redisUrl, s.queue, createLogger(s.logLevel));
      try {
        const status = await readRunStatus(h.queue, h.ledger);
        ctx.out.write(opts.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
        ctx.setExitCode(EXIT.ok);
      } finally {
        await h.close();
      }
    });
}
