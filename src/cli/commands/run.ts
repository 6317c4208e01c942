import { statSync } from 'node:fs';
import { Command } from 'commander';
import { resolveSettings } from '../../config/settings.js';
import type { CommandContext } from '../context.js';
import { addSettings } from '../options.js';
import { exitCodeFor, formatSummary } from '../print-summary.js';
import { API_SETTINGS, CONNECTION_SETTINGS, KEY_SETTINGS, ROW_DEFAULT_SETTINGS, WORKER_SETTINGS, keyRingFor, pipelineOptions } from '../run-settings.js';
import type { Logger } from '../../log.js';

/** Warns when the credentials file can be read by other users. */
export function warnIfShared(path: string, log: Logger): void {
  try {
    const mode = statSync(path).mode;
    if (mode & 0o044) {
      log.warn({ event: 'input:readable-by-others', mode: `0${(mode & 0o777).toString(8)}` }, `${path} can be read by group or others; it holds passwords: chmod 600 it`);
    }
  } catch {
    // missing files are reported by the reader, with a better message
  }
}

export function runCommand(ctx: CommandContext): Command {
  const cmd = new Command('run')
    .description('import a CSV, create a grant for every mailbox, and write the reports (one process; what cron runs)')
    .argument('<csv>', 'CSV of mailboxes (header required)')
    .requiredOption('--out <dir>', 'directory for grants.csv, dead-letter.csv, rejected.csv and summary.json')
    .option('--reset', 'discard an unfinished earlier run in the same queue')
    .option('--progress-interval <seconds>', 'outside a terminal, print a progress line this often', '10')
    .option('--no-progress', 'no progress bars or lines');
  addSettings(cmd, [...CONNECTION_SETTINGS, ...API_SETTINGS, ...WORKER_SETTINGS, 'highWater', ...ROW_DEFAULT_SETTINGS, ...KEY_SETTINGS]);
  return cmd
    .addHelpText(
      'after',
      `
Exit codes: 0 every row granted; 2 finished with rows dead-lettered, rejected or expired;
            1 fatal (bad config, unreadable CSV, Redis or the API unreachable, API key refused).

Examples:
  $ NYLAS_API_KEY=... imap-grants run mailboxes.csv --out reports/
  $ imap-grants run exchange-batch.csv --out out/ --imap-host imap.example.com --rate 40 --concurrency 50
  $ imap-grants run mailboxes.csv --out out/ --queue tenant-a --api-uri https://api.eu.nylas.com`,
    )
    .action(async (csv: string, opts: Record<string, unknown>) => {
      // Loaded when the command runs, so --help and other commands start fast.
      const { createLogger } = await import('../../log.js');
      const { runPipeline } = await import('../../run/run-pipeline.js');
      const { createProgressDisplay, estimateRows } = await import('../progress-display.js');
      const env = process.env;
      const base = resolveSettings([...CONNECTION_SETTINGS, ...API_SETTINGS, ...WORKER_SETTINGS, 'highWater', ...ROW_DEFAULT_SETTINGS], opts, env, ['apiKey']);
      const display = opts.progress === false ? undefined : createProgressDisplay(process.stderr, { intervalS: Number(opts.progressInterval) || 10, rowsEstimate: await estimateRows(csv) });
      // In a terminal, log lines print above the bars. Per-row lines would drown the bars (the
      // bars, status and the reports carry them), so the default there is errors only.
      const log = display?.logStream
        ? createLogger(opts.logLevel === undefined && !env.LOG_LEVEL ? 'error' : base.logLevel, display.logStream, { pretty: true })
        : createLogger(base.logLevel);
      warnIfShared(csv, log);
      const summary = await runPipeline({
        ...pipelineOptions(base, {
          csvPath: csv,
          outDir: String(opts.out),
          ring: keyRingFor(opts, env, { command: 'run', allowEphemeral: true, log }),
          log,
          signal: ctx.shutdown,
          reset: opts.reset === true,
        }),
        onProgress: display?.update,
        highWater: base.highWater,
      }).finally(() => display?.stop());
      ctx.out.write(formatSummary(summary));
      ctx.setExitCode(exitCodeFor(summary));
    });
}
