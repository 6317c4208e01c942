import { Command } from 'commander';
import { resolveSettings } from '../../config/settings.js';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit.js';
import { addSettings } from '../options.js';
import { exitCodeFor, formatSummary } from '../print-summary.js';
import { API_SETTINGS, CONNECTION_SETTINGS, KEY_SETTINGS, ROW_DEFAULT_SETTINGS, WORKER_SETTINGS, keyRingFor, pipelineOptions } from '../run-settings.js';
import { warnIfShared } from './run.js';

export function reconcileCommand(ctx: CommandContext): Command {
  const cmd = new Command('reconcile')
    .description('make Nylas match the CSV: create missing grants, re-authenticate invalid ones, skip valid ones')
    .argument('<csv>', 'the desired state: a CSV of mailboxes, as for run')
    .requiredOption('--out <dir>', 'directory for plan.csv, orphans.csv and the run reports')
    .option('--dry-run', 'write plan.csv and orphans.csv, change nothing')
    .option('--delete-orphans', 'delete grants that no row of the CSV names (never without this flag)')
    .option('--reset', 'discard an unfinished earlier run in the same queue');
  addSettings(cmd, [...CONNECTION_SETTINGS, ...API_SETTINGS, ...WORKER_SETTINGS, ...ROW_DEFAULT_SETTINGS, ...KEY_SETTINGS]);
  return cmd
    .addHelpText(
      'after',
      `
plan.csv gives every row's action: create, reauthenticate, skip (valid grant, no API call) or reject.
orphans.csv lists grants no row names. Reports and exit codes are those of run; a dry run exits 0.
Two reconciliations of one queue never overlap: the second exits 1 and does nothing.

Examples:
  $ imap-grants reconcile mailboxes.csv --out nightly/ --dry-run
  $ imap-grants reconcile mailboxes.csv --out nightly/$(date +%F)/
  # cron: 0 2 * * *  cd /srv/imap-grants && imap-grants reconcile /srv/mailboxes.csv --out /srv/reports/nightly`,
    )
    .action(async (csv: string, opts: Record<string, unknown>) => {
      // Loaded when the command runs, so --help and other commands start fast.
      const { createLogger } = await import('../../log.js');
      const { reconcile } = await import('../../run/reconcile.js');
      const env = process.env;
      const s = resolveSettings([...CONNECTION_SETTINGS, ...API_SETTINGS, ...WORKER_SETTINGS, ...ROW_DEFAULT_SETTINGS], opts, env, ['apiKey']);
      const log = createLogger(s.logLevel);
      warnIfShared(csv, log);
      const result = await reconcile({
        ...pipelineOptions(s, {
          csvPath: csv,
          outDir: String(opts.out),
          ring: keyRingFor(opts, env, { command: 'reconcile', allowEphemeral: true, log }),
          log,
          signal: ctx.shutdown,
          reset: opts.reset === true,
        }),
        dryRun: opts.dryRun === true,
        deleteOrphans: opts.deleteOrphans === true,
      });
      const p = result.plan;
      ctx.out.write(
        `Existing IMAP grants: ${result.existingGrants}\nPlan: ${p.create} create, ${p.reauthenticate} re-authenticate, ${p.skip} skip (valid), ${p.reject} reject\n` +
          `Orphans: ${result.orphans}${result.orphansDeleted ? ` (${result.orphansDeleted} deleted)` : ''}\n  ${result.planPath}\n  ${result.orphansPath}\n`,
      );
      if (!result.summary) return ctx.setExitCode(EXIT.ok);
      ctx.out.write(formatSummary(result.summary));
      ctx.setExitCode(exitCodeFor(result.summary));
    });
}
