import { Worker, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { backoffDelayMs } from '../core/backoff.js';
import { clip } from '../core/redact.js';
import type { KeyRing } from '../crypto/key-ring.js';
import type { Logger } from '../log.js';
import type { NylasClient } from '../nylas/sdk.js';
import { CALL_GATE_DEFAULTS, CallGate, PAUSE_ONLY_LIMITER } from '../queue/call-gate.js';
import { outcomeFields, PREFIX, scrubCredentials, type GrantJobData } from '../queue/job.js';
import { Ledger } from '../queue/ledger.js';
import { makeProcessor, type ProcessorConfig } from './process-job.js';

export interface WorkerConfig extends ProcessorConfig {
  concurrency: number;
  /** Logins in flight per IMAP host, across every worker of the queue. */
  perHostConcurrency: number;
  /** Probe interval of an open circuit breaker (default 30 s). */
  breakerCooldownMs?: number;
  /** How long a down host's jobs wait before being tried anyway (default 2 h). */
  hostOutageLimitMs?: number;
  /** Custom-auth calls per second across every worker of the queue. */
  rate: number;
}

export interface StartWorkerDeps {
  /** The worker's own (blocking) connection. */
  connection: Redis;
  /** A shared connection for short commands (the call gate). */
  commands: Redis;
  queue: Queue<GrantJobData>;
  ledger: Ledger;
  nylas: NylasClient;
  ring: KeyRing;
  log: Logger;
  config: WorkerConfig;
}

/**
 * A BullMQ worker for one queue. The rate is kept by the call gate, not by
 * BullMQ's limiter: a limiter of one job per 1000/rate ms (the only BullMQ
 * setting that keeps every sliding second under the rate) leaves worker slots
 * idle until another job finishes whenever a fetch is limited, which halved
 * throughput at high rates. The gate spaces the calls themselves, across every
 * process, and the limiter only carries the 429 pause.
 */
export function startGrantWorker(deps: StartWorkerDeps): { worker: Worker<GrantJobData>; halted: Promise<string> } {
  const { queue, ledger, log, config } = deps;
  let haltResolve!: (reason: string) => void;
  const halted = new Promise<string>((r) => (haltResolve = r));
  let haltedOnce = false;

  const onHalt = async (reason: string) => {
    if (haltedOnce) return;
    haltedOnce = true;
    await ledger.setMeta({ halt: reason });
    await queue.pause();
    log.error({ event: 'run:halted' }, reason);
    haltResolve(reason);
  };

  // The call gate and the processor's ledger writes get a connection of their own, auto-pipelined:
  // the commands of jobs finishing in the same tick leave in one socket write, and socket writes
  // were a fifth of a busy worker's CPU. BullMQ's connections are left as they are: auto-pipelining
  // under BullMQ has been reported to lose job data (OptimalBits/bull#2276).
  const gateRedis = deps.commands.duplicate({ enableAutoPipelining: true, lazyConnect: true });
  gateRedis.on('error', () => {});
  const processorLedger = new Ledger(gateRedis, queue.name);
  const gate = new CallGate(gateRedis, queue.name, {
    ...CALL_GATE_DEFAULTS,
    rate: config.rate,
    perHost: config.perHostConcurrency,
    ...(config.breakerCooldownMs ? { cooldownMs: config.breakerCooldownMs } : {}),
    ...(config.hostOutageLimitMs ? { maxOpenMs: config.hostOutageLimitMs } : {}),
  });
  const processor = makeProcessor({ ...deps, ledger: processorLedger, gate, onHalt });
  const worker = new Worker<GrantJobData>(queue.name, processor, {
    connection: deps.connection,
    prefix: PREFIX,
    concurrency: config.concurrency,
    limiter: PAUSE_ONLY_LIMITER,
    // Credentials leave Redis with the job: completed jobs are removed, failed
    // ones were scrubbed by the processor before it threw.
    removeOnComplete: { count: 0 },
    removeOnFail: { age: 7 * 24 * 3600 },
    // A job held by a killed worker comes back; allow a few such returns before giving up on it.
    maxStalledCount: 5,
    settings: {
      backoffStrategy: (attemptsMade: number) => backoffDelayMs(attemptsMade, config.backoffMs),
    },
  });
  worker.on('closed', () => gateRedis.disconnect());
  worker.on('error', (err) => log.warn({ event: 'worker:error', err: clip(err.message) }, 'worker error'));

  // A job can fail without the processor deciding it (stalled too often):
  // such a row still needs exactly one outcome, and no credentials left behind.
  worker.on('failed', (job, err) => {
    if (!job || !job.id || job.data.sealed === undefined) return;
    if (job.attemptsMade < (job.opts.attempts ?? 1) && !/stalled|UnrecoverableError/i.test(`${err.name} ${err.message}`)) return;
    void (async () => {
      if (await ledger.outcomeOf(job.id!)) return;
      await ledger.recordOutcome(job.id!, {
        outcome: 'dead_lettered',
        ...outcomeFields(job.data),
        error_type: 'provider_not_responding',
        message: clip(`job failed outside the processor: ${err.message}`),
        attempts: job.attemptsMade,
        finished_at: new Date().toISOString(),
      });
      await scrubCredentials(job);
    })().catch((e: unknown) => log.warn({ err: (e as Error).message }, 'could not record a failed job'));
  });

  return { worker, halted };
}
