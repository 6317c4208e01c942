import { Command } from 'commander';
import { resolveSettings } from '../../config/settings.js';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit.js';
import { addSettings } from '../options.js';
import { CONNECTION_SETTINGS, KEY_SETTINGS, ROW_DEFAULT_SETTINGS, keyRingFor, rowDefaults } from '../run-settings.js';
import { warnIfShared } from './run.js';

export function importCommand(ctx: CommandContext): Command {
  const cmd = new Command('import')
    .description('validate a CSV and enqueue one job per mailbox (split runs: import, then work, then report)')
    .argument('<csv>', 'CSV of mailboxes (header required)');
  addSettings(cmd, [...CONNECTION_SETTINGS, 'highWater', ...ROW_DEFAULT_SETTINGS, ...KEY_SETTINGS]);
  return cmd
    .addHelpText(
      'after',
      `
Needs IMAP_GRANTS_KEY (or --key-file): the workers on other machines must open what this seals.
Importing the same file again queues nothing twice. Exit codes: 0 imported; 2 some rows rejected; 1 fatal.

Examples:
  $ export IMAP_GRANTS_KEY=$(openssl rand -base64 32)   # share it with the workers
  $ imap-grants import mailboxes.csv --queue batch-7
  $ imap-grants work --queue batch-7 --until-drained     # on any number of machines
  $ imap-grants report --queue batch-7 --out reports/`,
    )
    .action(async (csv: string, opts: Record<string, unknown>) => {
      // Loaded when the command runs, so --help and other commands start fast.
      const { createLogger } = await import('../../log.js');
      const { importCsv } = await import('../../queue/import-csv.js');
      const { openRun } = await import('../../run/run-context.js');
      const env = process.env;
      const s = resolveSettings([...CONNECTION_SETTINGS, 'highWater', ...ROW_DEFAULT_SETTINGS], opts, env);
      const log = createLogger(s.logLevel);
      const ring = keyRingFor(opts, env, { command: 'import', allowEphemeral: false });
      warnIfShared(csv, log);
      const h = await openRun(s.redisUrl, s.queue, log);
      try {
        await h.ledger.markStarted();
        const started = performance.now();
        const p = await importCsv({ path: csv, queue: h.queue, ledger: h.ledger, ring, defaults: rowDefaults(s), log, signal: ctx.shutdown, highWater: s.highWater });
        await h.ledger.setMeta({ importDone: 1 });
        // Timed from the first byte read to the last batch in Redis: start-up and connecting are left out,
        // so the figure is the cost per row, comparable between a small file and a large one.
        const seconds = (performance.now() - started) / 1000;
        ctx.out.write(
          `Imported ${csv} into queue "${s.queue}": ${p.rows} rows, ${p.accepted} queued, ${p.rejected} rejected, ${p.alreadyQueued} already queued, ${p.warnings} with warnings, in ${seconds.toFixed(2)} s (${Math.round(p.rows / seconds)} rows/s)\n`,
        );
        ctx.setExitCode(p.rejected > 0 ? EXIT.incomplete : EXIT.ok);
      } finally {
        await h.close();
      }
    });
}
