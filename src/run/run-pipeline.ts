import { setTimeout as sleep } from 'node:timers/promises';
import { maskSecret } from '../config/settings.js';
import type { RowDefaults } from '../core/validate-row.js';
import type { KeyRing } from '../crypto/key-ring.js';
import { UnreadableCsvError } from '../csv/read-rows.js';
import type { Logger } from '../log.js';
import { createNylasClient } from '../nylas/sdk.js';
import { importCsv, type ImportOptions } from '../queue/import-csv.js';
import { acquireRunLock } from '../queue/run-lock.js';
import { createRedis } from '../queue/redis.js';
import { writeReports, type RunSummary } from '../reports/write-reports.js';
import { ensureImapConnector } from '../worker/ensure-connector.js';
import { startGrantWorker, type WorkerConfig } from '../worker/start-worker.js';
import { openRun, resetRun, unfinishedJobs, type RunHandles } from './run-context.js';
import { readRunStatus, type RunStatus } from './run-status.js';

export interface RunPipelineOptions {
  csvPath: string;
  outDir: string;
  queueName: string;
  redisUrl: string;
  apiKey: string;
  apiUri: string;
  worker: WorkerConfig;
  defaults: RowDefaults;
  ring: KeyRing;
  log: Logger;
  /** Discard an unfinished earlier run in the same queue instead of refusing. */
  reset?: boolean;
  signal?: AbortSignal;
  /** Called about once a second with where the run stands. */
  onProgress?: (s: RunStatus) => void;
  /** Reconciliation: per-row plan and plan.csv feed (see `importCsv`). */
  plan?: ImportOptions['plan'];
  onRow?: ImportOptions['onRow'];
  /** Import backpressure: wait while more jobs than this are queued (0: never). */
  highWater?: number;
  /** Who holds the queue's lock, for the message a second run gets. */
  lockLabel?: string;
  /** The caller already holds the queue's lock (reconcile takes it before listing grants). */
  lockHeld?: boolean;
}


export class RunRefusedError extends Error {
  override name = 'RunRefusedError';
}

/** Waits until every accepted row has an outcome, the run halts, or we are told to stop. */
async function waitForOutcomes(h: RunHandles, o: RunPipelineOptions, halted: Promise<string>): Promise<void> {
  let haltReason: string | undefined;
  void halted.then((r) => (haltReason = r));
  let drainedChecks = 0;
  for (;;) {
    const c = await h.ledger.counts();
    if (haltReason || c.halt || o.signal?.aborted) return;
    if (c.granted + c.dead_lettered + c.expired >= c.accepted) return;
    // Belt and braces: if BullMQ holds nothing more yet rows lack outcomes, say so rather than wait forever.
    if ((await unfinishedJobs(h.queue)) === 0) {
      if (++drainedChecks >= 10) {
        o.log.error(
          { accepted: c.accepted, finished: c.granted + c.dead_lettered + c.expired },
          'the queue is empty but some rows have no outcome; reporting what is known',
        );
        return;
      }
    } else drainedChecks = 0;
    await sleep(250);
  }
}

/**
 * `run`: import a CSV, work it to the end in this process, write the reports.
 * Workers start before the import, so the first grants are made while the
 * file is still streaming.
 */
export async function runPipeline(o: RunPipelineOptions): Promise<RunSummary> {
  const h = await openRun(o.redisUrl, o.queueName, o.log);
  const workerConnection = createRedis(o.redisUrl);
  let lock: { release(): Promise<void> } | undefined;
  try {
    if (!o.lockHeld) lock = await acquireRunLock(h.redis, o.queueName, o.lockLabel ?? 'run');
    const pending = await unfinishedJobs(h.queue);
    if (pending > 0 && !o.reset) {
      throw new RunRefusedError(
        `queue "${o.queueName}" still holds ${pending} unfinished job(s) from another run. Finish it with "imap-grants work --queue ${o.queueName} --until-drained", choose another --queue, or pass --reset to discard it`,
      );
    }
    await resetRun(h);
    await h.ledger.setMeta({ startedAt: Date.now() });

    o.log.info(
      { event: 'run:started', queue: o.queueName, api_uri: o.apiUri, api_key_hint: maskSecret(o.apiKey), concurrency: o.worker.concurrency, rate: o.worker.rate, encryption_key_id: o.ring.current.id },
      'run started',
    );
    const nylas = createNylasClient({ apiKey: o.apiKey, apiUri: o.apiUri, timeout: o.worker.apiTimeoutS });
    await ensureImapConnector(nylas, o.log);

    const progress = o.onProgress ? setInterval(() => void readRunStatus(h.queue, h.ledger).then(o.onProgress, () => undefined), 1000) : undefined;
    const { worker, halted } = startGrantWorker({
      connection: workerConnection,
      commands: h.redis,
      queue: h.queue,
      ledger: h.ledger,
      nylas,
      ring: o.ring,
      log: o.log,
      config: o.worker,
    });
    try {
      try {
        await importCsv({
          path: o.csvPath,
          queue: h.queue,
          ledger: h.ledger,
          ring: o.ring,
          defaults: o.defaults,
          log: o.log,
          signal: o.signal,
          plan: o.plan,
          onRow: o.onRow,
          ...(o.highWater !== undefined ? { highWater: o.highWater } : {}),
        });
      } catch (e) {
        const counts = await h.ledger.counts();
        if (!(e instanceof UnreadableCsvError) || counts.accepted === 0) throw e;
        // Rows before the unreadable part are already queued: finish and report them, then fail.
        await h.ledger.setMeta({ importError: e.message });
        o.log.error({ event: 'import:failed' }, e.message);
      }
      await h.ledger.setMeta({ importDone: 1 });
      await waitForOutcomes(h, o, halted);
    } finally {
      clearInterval(progress);
      await worker.close();
    }
    if (o.onProgress) o.onProgress(await readRunStatus(h.queue, h.ledger));
    return await writeReports(h.ledger, o.outDir);
  } finally {
    await lock?.release().catch(() => undefined);
    workerConnection.disconnect();
    await h.close();
  }
}
