import { Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { PREFIX } from '../queue/job.js';

/**
 * Scheduled reconciliations. Each run queue has a control queue beside it
 * (`<queue>.control`) holding at most one BullMQ job scheduler, so
 * registering a schedule again replaces it. Any `work` process of the queue
 * runs a reconciliation when the schedule fires; the queue's run lock keeps
 * two of them from overlapping.
 */
export interface ReconcileJobData {
  csvPath: string;
  outDir: string;
  deleteOrphans: boolean;
}

export const RECONCILE_JOB = 'reconcile';
export const controlQueueName = (queue: string) => `${queue}.control`;
export const schedulerId = (queue: string) => `reconcile-${queue}`;

export function openControlQueue(connection: Redis, queue: string): Queue<ReconcileJobData> {
  return new Queue<ReconcileJobData>(controlQueueName(queue), { connection, prefix: PREFIX });
}

export interface ScheduleInfo {
  id: string;
  pattern?: string;
  tz?: string;
  next?: Date;
  csvPath?: string;
  outDir?: string;
}

export async function upsertReconcileSchedule(control: Queue<ReconcileJobData>, queue: string, cron: string, tz: string, data: ReconcileJobData): Promise<ScheduleInfo> {
  await control.upsertJobScheduler(schedulerId(queue), { pattern: cron, tz }, { name: RECONCILE_JOB, data, opts: { attempts: 1, removeOnComplete: 100, removeOnFail: 100 } });
  return (await listSchedules(control)).find((s) => s.id === schedulerId(queue))!;
}

export async function listSchedules(control: Queue<ReconcileJobData>): Promise<ScheduleInfo[]> {
  const all = await control.getJobSchedulers(0, -1, true);
  return all.map((s) => ({
    id: s.key,
    pattern: s.pattern,
    tz: s.tz,
    next: s.next ? new Date(s.next) : undefined,
    csvPath: s.template?.data?.csvPath,
    outDir: s.template?.data?.outDir,
  }));
}

export async function removeReconcileSchedule(control: Queue<ReconcileJobData>, queue: string): Promise<boolean> {
  return control.removeJobScheduler(schedulerId(queue));
}

/** Runs scheduled reconciliations, one at a time per process. */
export function startControlWorker(connection: Redis, queue: string, run: (job: Job<ReconcileJobData>) => Promise<void>): Worker<ReconcileJobData> {
  return new Worker<ReconcileJobData>(controlQueueName(queue), run, { connection, prefix: PREFIX, concurrency: 1, lockDuration: 120_000 });
}
