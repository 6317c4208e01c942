import { Command } from 'commander';
import { resolveSettings } from '../../config/settings.js';
import type { CommandContext } from '../context.js';
import { addSettings } from '../options.js';
import { exitCodeFor, formatSummary } from '../print-summary.js';
import { CONNECTION_SETTINGS } from '../run-settings.js';

export function reportCommand(ctx: CommandContext): Command {
  const cmd = new Command('report')
    .description('write grants.csv, dead-letter.csv, rejected.csv and summary.json for a queue')
    .requiredOption('--out <dir>', 'directory for the reports');
  addSettings(cmd, [...CONNECTION_SETTINGS, 'credentialTtl']);
  return cmd
    .addHelpText('after', `\nExit codes as for run. Safe to call while a run is in progress: it reports what is final so far.\nFirst purges credentials that waited past --credential-ttl unprocessed; their rows are reported as expired.\n\nExample:\n  $ imap-grants report --queue batch-7 --out reports/`)
    .action(async (opts: Record<string, unknown>) => {
      // Loaded when the command runs, so --help and other commands start fast.
      const { createLogger } = await import('../../log.js');
      const { writeReports } = await import('../../reports/write-reports.js');
      const { purgeExpiredCredentials } = await import('../../queue/purge-expired.js');
      const { openRun, unfinishedJobs } = await import('../../run/run-context.js');
      const s = resolveSettings([...CONNECTION_SETTINGS, 'credentialTtl'], opts, process.env);
      const log = createLogger(s.logLevel);
      const h = await openRun(s.redisUrl, s.queue, log);
      try {
        // Credentials nobody processed in time are purged and reported, never left behind.
        await purgeExpiredCredentials(h.queue, h.ledger, s.credentialTtl, log);
        const summary = await writeReports(h.ledger, String(opts.out));
        const pending = await unfinishedJobs(h.queue);
        ctx.out.write(formatSummary(summary));
        if (pending > 0) ctx.out.write(`Still in progress: ${pending} job(s) have not reached a final state.\n`);
        ctx.setExitCode(exitCodeFor(summary));
      } finally {
        await h.close();
      }
    });
}
