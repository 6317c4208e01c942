import { resolve } from 'node:path';
import { Command } from 'commander';
import { resolveSettings } from '../../config/settings.js';
import type { CommandContext } from '../context.js';
import { EXIT, FatalError } from '../exit.js';
import { addSettings } from '../options.js';
import { CONNECTION_SETTINGS } from '../run-settings.js';

export function scheduleCommand(ctx: CommandContext): Command {
  const cmd = new Command('schedule')
    .description('register, list or remove the nightly reconciliation of a queue (a BullMQ job scheduler run by the workers)')
    .argument('[csv]', 'the desired-state CSV, at a path every worker host can read')
    .option('--cron <pattern>', 'cron pattern, e.g. "0 2 * * *" (5 fields, or 6 with seconds)')
    .option('--tz <zone>', 'time zone of the pattern', 'UTC')
    .option('--out <dir>', 'where each reconciliation writes its reports (a dated folder per run)')
    .option('--delete-orphans', 'let scheduled reconciliations delete orphan grants')
    .option('--list', 'list the schedules of this queue')
    .option('--remove', 'remove the schedule of this queue');
  addSettings(cmd, CONNECTION_SETTINGS);
  return cmd
    .addHelpText(
      'after',
      `
One schedule per queue: registering again replaces it. A running "imap-grants work" for the queue
performs each reconciliation (it needs NYLAS_API_KEY and IMAP_GRANTS_KEY, as for work).

Examples:
  $ imap-grants schedule --cron "0 2 * * *" /srv/mailboxes.csv --out /srv/reports/nightly
  $ imap-grants schedule --list
  $ imap-grants schedule --remove

Plain cron or a Kubernetes CronJob can call reconcile directly instead (see the README).`,
    )
    .action(async (csv: string | undefined, opts: Record<string, unknown>) => {
      const { connectRedis } = await import('../../queue/redis.js');
      const sched = await import('../../schedule/control-queue.js');
      const s = resolveSettings(CONNECTION_SETTINGS, opts, process.env);
      const modes = [opts.list, opts.remove, opts.cron].filter(Boolean).length;
      if (modes !== 1) throw new FatalError('schedule: give exactly one of --cron <pattern> (with <csv> and --out), --list or --remove');
      if (opts.cron && (!csv || !opts.out)) throw new FatalError('schedule --cron: needs the <csv> argument and --out <dir>');
      const redis = await connectRedis(s.redisUrl);
      const control = sched.openControlQueue(redis, s.queue);
      try {
        if (opts.list) {
          const all = await sched.listSchedules(control);
          if (all.length === 0) ctx.out.write(`No schedule for queue "${s.queue}".\n`);
          for (const x of all) ctx.out.write(`${x.id}  "${x.pattern}" ${x.tz ?? 'UTC'}  next ${x.next?.toISOString() ?? '?'}  ${x.csvPath} -> ${x.outDir}\n`);
        } else if (opts.remove) {
          const removed = await sched.removeReconcileSchedule(control, s.queue);
          ctx.out.write(removed ? `Removed the schedule of queue "${s.queue}".\n` : `Queue "${s.queue}" had no schedule.\n`);
        } else {
          const info = await sched
            .upsertReconcileSchedule(control, s.queue, String(opts.cron), String(opts.tz), {
              csvPath: resolve(csv!),
              outDir: resolve(String(opts.out)),
              deleteOrphans: opts.deleteOrphans === true,
            })
            .catch((e: unknown) => {
              throw new FatalError(`--cron "${String(opts.cron)}": ${(e as Error).message}`);
            });
          ctx.out.write(`Scheduled reconciliation of queue "${s.queue}": "${info.pattern}" ${info.tz}, next ${info.next?.toISOString()}\n`);
        }
        ctx.setExitCode(EXIT.ok);
      } finally {
        await control.close();
        redis.disconnect();
      }
    });
}
