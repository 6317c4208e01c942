import type { Job, Queue } from 'bullmq';
import type { Logger } from '../log.js';
import { outcomeFields, type GrantJobData } from './job.js';
import type { Ledger } from './ledger.js';

/**
 * Purges credentials that have waited longer than the TTL without being
 * processed (no worker ran, or the run was abandoned), and reports their rows
 * as `expired`, never silently dropped. Waiting jobs are read oldest first,
 * and the scan stops at the first one still within the TTL, so a sweep over
 * a million fresh jobs costs one page.
 */
export async function purgeExpiredCredentials(queue: Queue<GrantJobData>, ledger: Ledger, ttlMs: number, log: Logger, now = Date.now()): Promise<number> {
  const cutoff = now - ttlMs;
  let purged = 0;
  const expire = async (job: Job<GrantJobData>) => {
    if (!job.id || job.timestamp > cutoff) return;
    try {
      await job.remove();
    } catch {
      return; // taken by a worker meanwhile: the processor applies the same TTL
    }
    await ledger.recordOutcome(job.id, {
      outcome: 'expired',
      ...outcomeFields(job.data),
      error_type: 'expired',
      message: `credentials waited longer than --credential-ttl (${Math.round(ttlMs / 1000)} s) without being processed and were purged`,
      attempts: job.attemptsMade,
      finished_at: new Date(now).toISOString(),
    });
    purged++;
  };

  const page = 500;
  for (let start = 0; ; start += page) {
    const jobs = await queue.getJobs(['waiting', 'prioritized'], start, start + page - 1, true);
    const old = jobs.filter((j) => j && j.timestamp <= cutoff);
    for (const job of old) await expire(job);
    // Removing shifts later jobs down by the number removed.
    start -= old.length;
    if (jobs.length < page || old.length < jobs.length) break;
  }
  for (let start = 0; ; start += page) {
    const jobs = await queue.getJobs(['delayed'], start, start + page - 1, true);
    const before = purged;
    for (const job of jobs) if (job) await expire(job);
    start -= purged - before;
    if (jobs.length < page) break;
  }
  if (purged > 0) log.warn({ event: 'credentials:purged', purged, ttl_s: Math.round(ttlMs / 1000) }, `purged ${purged} unprocessed credential(s) past the TTL`);
  return purged;
}
