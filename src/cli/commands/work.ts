import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command, Option } from 'commander';
import { maskSecret, resolveSettings } from '../../config/settings.js';
import type { CommandContext } from '../context.js';
import { EXIT, FatalError } from '../exit.js';
import { addSettings } from '../options.js';
import { API_SETTINGS, CONNECTION_SETTINGS, KEY_SETTINGS, ROW_DEFAULT_SETTINGS, WORKER_SETTINGS, keyRingFor, pipelineOptions, workerConfig } from '../run-settings.js';

export function workCommand(ctx: CommandContext): Command {
  const cmd = new Command('work')
    .description('process the jobs of a queue (run any number of these, on any number of machines)')
    .option('--until-drained', 'exit once the import is done and every job has reached a final state')
    .addOption(new Option('--grace-period <seconds>', 'on SIGTERM, how long jobs in flight may take to finish').default('30'));
  addSettings(cmd, [...CONNECTION_SETTINGS, ...API_SETTINGS, ...WORKER_SETTINGS, ...ROW_DEFAULT_SETTINGS, ...KEY_SETTINGS]);
  return cmd
    .addHelpText(
      'after',
      `
On SIGTERM a worker stops taking jobs, lets those in flight finish within --grace-period, and exits 0;
a second SIGTERM exits at once (interrupted jobs are picked up again by other workers).

Examples:
  $ IMAP_GRANTS_KEY=... NYLAS_API_KEY=... imap-grants work --queue batch-7
  $ imap-grants work --queue batch-7 --until-drained --concurrency 50 --rate 40`,
    )
    .action(async (opts: Record<string, unknown>) => {
      // Loaded when the command runs, so --help and other commands start fast.
      const { createLogger } = await import('../../log.js');
      const { createNylasClient } = await import('../../nylas/sdk.js');
      const { createRedis } = await import('../../queue/redis.js');
      const { openRun, unfinishedJobs } = await import('../../run/run-context.js');
      const { ensureImapConnector } = await import('../../worker/ensure-connector.js');
      const { startGrantWorker } = await import('../../worker/start-worker.js');
      const { purgeExpiredCredentials } = await import('../../queue/purge-expired.js');
      const { startControlWorker } = await import('../../schedule/control-queue.js');
      const { reconcile } = await import('../../run/reconcile.js');
      const env = process.env;
      const s = resolveSettings([...CONNECTION_SETTINGS, ...API_SETTINGS, ...WORKER_SETTINGS, ...ROW_DEFAULT_SETTINGS], opts, env, ['apiKey']);
      const grace = Number(opts.gracePeriod);
      if (!Number.isFinite(grace) || grace < 0) throw new FatalError(`--grace-period: expected a number of seconds ≥ 0, got "${String(opts.gracePeriod)}"`);
      const log = createLogger(s.logLevel);
      const ring = keyRingFor(opts, env, { command: 'work', allowEphemeral: false });
      const config = workerConfig(s);
      const h = await openRun(s.redisUrl, s.queue, log);
      const connection = createRedis(s.redisUrl);
      try {
        const nylas = createNylasClient({ apiKey: s.apiKey, apiUri: s.apiUri, timeout: s.apiTimeout });
        await ensureImapConnector(nylas, log);
        const { worker, halted } = startGrantWorker({ connection, commands: h.redis, queue: h.queue, ledger: h.ledger, nylas, ring, log, config });
        log.info(
          { event: 'worker:started', queue: s.queue, concurrency: config.concurrency, rate: config.rate, api_uri: s.apiUri, api_key_hint: maskSecret(s.apiKey), encryption_key_id: ring.current.id },
          'worker started',
        );
        // Credentials nobody will process in time are purged, at start and then periodically.
        const sweep = () => purgeExpiredCredentials(h.queue, h.ledger, config.credentialTtlMs, log).catch((e: unknown) => log.warn({ err: (e as Error).message }, 'purge failed'));
        await sweep();
        const sweeper = setInterval(sweep, Math.min(config.credentialTtlMs / 10, 10 * 60_000));
        sweeper.unref();
        let haltReason: string | undefined;
        void halted.then((r) => (haltReason = r));

        // A long-running worker also performs the queue's scheduled reconciliations.
        const controlConnection = opts.untilDrained ? undefined : createRedis(s.redisUrl);
        const control = controlConnection
          ? startControlWorker(controlConnection, s.queue, async (job) => {
              const outDir = join(job.data.outDir, new Date().toISOString().replace(/[:.]/g, '-'));
              log.info({ event: 'schedule:fired', queue: s.queue, out: outDir }, 'scheduled reconciliation started');
              const result = await reconcile({
                ...pipelineOptions(s, { csvPath: job.data.csvPath, outDir, ring, log, signal: ctx.shutdown }),
                dryRun: false,
                deleteOrphans: job.data.deleteOrphans,
              });
              log.info({ event: 'schedule:done', queue: s.queue, out: outDir, plan: result.plan, orphans: result.orphans, granted: result.summary?.granted, dead_lettered: result.summary?.dead_lettered }, 'scheduled reconciliation finished');
            })
          : undefined;
        control?.on('failed', (_job, err) => log.error({ event: 'schedule:failed', err: err.message }, `scheduled reconciliation failed: ${err.message}`));

        const drained = async () => {
          for (;;) {
            if (haltReason || ctx.shutdown.aborted) return;
            const c = await h.ledger.counts();
            if (c.halt) return void (haltReason = c.halt);
            if (c.importDone && (await unfinishedJobs(h.queue)) === 0) return;
            await sleep(1000);
          }
        };
        await Promise.race([opts.untilDrained ? drained() : ctx.untilShutdown(), halted]);

        clearInterval(sweeper);
        await control?.close();
        controlConnection?.disconnect();
        const closing = worker.close();
        const timedOut = await Promise.race([closing.then(() => false), sleep(grace * 1000).then(() => true)]);
        if (timedOut) {
          log.warn({ event: 'worker:forced-close', grace_s: grace }, 'jobs still in flight after the grace period; they will be picked up again');
          await worker.close(true);
        }
        log.info({ event: 'worker:stopped' }, 'worker stopped');
        if (haltReason) throw new FatalError(haltReason);
        ctx.setExitCode(EXIT.ok);
      } finally {
        connection.disconnect();
        await h.close();
      }
    });
}
