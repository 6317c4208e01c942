import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Queue } from 'bullmq';
import type { PlanAction, PlannedRow } from '../core/reconcile-plan.js';
import { validateRow, type RowDefaults } from '../core/validate-row.js';
import { sealSecrets } from '../crypto/credential-box.js';
import type { KeyRing } from '../crypto/key-ring.js';
import { readCsvRecords } from '../csv/read-rows.js';
import type { Logger } from '../log.js';
import type { AcceptedRow } from '../types.js';
import { JOB_NAME, jobIdFor, sealBinding, type GrantJobData } from './job.js';
import type { Ledger, RejectedRecord } from './ledger.js';

export interface ImportOptions {
  path: string;
  queue: Queue<GrantJobData>;
  ledger: Ledger;
  ring: KeyRing;
  defaults: RowDefaults;
  log: Logger;
  /** Jobs per `addBulk` call. */
  batchSize?: number;
  /** Pause the import while the backlog is above this many jobs… */
  highWater?: number;
  /** …until it is below this many. */
  lowWater?: number;
  signal?: AbortSignal;
  onBatch?: (progress: ImportProgress) => void;
  /**
   * Reconciliation: decides per row whether it needs an API call at all. A
   * `skip` is recorded as granted (unchanged) without a job.
   */
  plan?: (row: AcceptedRow) => PlannedRow;
  /** Called once for every row read, with what happens to it (plan.csv). */
  onRow?: (entry: RowPlan) => Promise<void>;
  /** Plan only: validate, detect duplicates and call `onRow`, but enqueue and record nothing. */
  dryRun?: boolean;
}

export interface RowPlan {
  line: number;
  email: string;
  action: PlanAction | 'reject' | 'already_queued';
  grant_id?: string;
  grant_status?: string;
  reason?: string;
}

export interface ImportProgress {
  rows: number;
  accepted: number;
  rejected: number;
  alreadyQueued: number;
  warnings: number;
}

/** Retry settings live on the job, but the worker decides when a failure is final. */
export const JOB_OPTIONS = { attempts: 1000, backoff: { type: 'grant' } } as const;

/**
 * Streams a CSV into the queue: validates each row, rejects bad ones with the
 * field named, seals the credentials of good ones, and adds jobs in batches.
 *
 * Idempotent: job ids come from the email, and each row is claimed in the
 * ledger first, so an email seen twice in this file is rejected as a
 * duplicate, and one already queued by an earlier import is not queued again.
 */
export async function importCsv(o: ImportOptions): Promise<ImportProgress> {
  const importId = randomUUID().slice(0, 8);
  // 500: two batches are in flight at once (one claimed, one written), and 2 × 500 holds about the
  // memory one batch of 1,000 did, at no cost in rate (measured at 100k and 1M rows).
  const batchSize = o.batchSize ?? 500;
  const highWater = o.highWater ?? 200_000;
  const lowWater = o.lowWater ?? Math.floor(highWater / 2);
  const progress: ImportProgress = { rows: 0, accepted: 0, rejected: 0, alreadyQueued: 0, warnings: 0 };

  const waitForRoom = async () => {
    if (highWater <= 0) return;
    let backlog = await o.queue.count();
    if (backlog < highWater) return;
    o.log.info({ backlog, highWater }, 'import: backlog above high-water mark, waiting');
    while (backlog >= lowWater && !o.signal?.aborted) {
      await sleep(500);
      backlog = await o.queue.count();
    }
  };

  type Pending = Array<{ row: AcceptedRow; jobId: string }>;

  /** Seals and enqueues one claimed batch, then records its rejections and counts. */
  const write = async (batch: Pending, claims: string[], rejected: RejectedRecord[], rowsRead: number) => {
    const jobs = [];
    let counted = 0;
    let already = 0;
    for (const [i, { row, jobId }] of batch.entries()) {
      const claim = claims[i]!;
      if (claim !== '') {
        const [by, line] = claim.split(':');
        if (by === importId) rejected.push({ line: row.line, email: row.email, reason: `email: duplicate of line ${line}` });
        else {
          already++;
          await o.onRow?.({ line: row.line, email: row.email, action: 'already_queued' });
        }
        continue;
      }
      counted++;
      const planned = o.plan?.(row) ?? { action: 'create' as const };
      await o.onRow?.({ line: row.line, email: row.email, action: planned.action, grant_id: planned.grantId, grant_status: planned.grantStatus });
      if (row.warnings.length > 0) {
        progress.warnings++;
        o.log.warn({ line: row.line, email: row.email, warnings: row.warnings }, 'import:row-warning');
      }
      if (o.dryRun) continue;
      if (planned.action === 'skip') {
        await o.ledger.recordOutcome(jobId, {
          outcome: 'granted',
          line: row.line,
          email: row.email,
          ...(row.settings.imapHost ? { imap_host: row.settings.imapHost } : {}),
          grant_id: planned.grantId,
          grant_status: planned.grantStatus ?? 'valid',
          grant_action: 'unchanged',
          attempts: 0,
          finished_at: new Date().toISOString(),
        });
        continue;
      }
      const data: GrantJobData = {
        v: 1,
        line: row.line,
        email: row.email,
        ...row.settings,
        sealed: sealSecrets(o.ring, row.secrets, sealBinding(o.queue.name, jobId)),
        ...(row.warnings.length > 0 ? { warnings: row.warnings } : {}),
        ...(planned.grantId ? { grantId: planned.grantId } : {}),
      };
      jobs.push({ name: JOB_NAME, data, opts: { jobId, ...JOB_OPTIONS } });
    }
    if (jobs.length > 0) {
      await waitForRoom();
      await o.queue.addBulk(jobs);
    }
    progress.accepted += counted;
    progress.alreadyQueued += already;
    progress.rejected += rejected.length;
    for (const r of rejected) {
      o.log.info({ line: r.line, email: r.email, reason: r.reason }, 'import:row-rejected');
      await o.onRow?.({ line: r.line, email: r.email, action: 'reject', reason: r.reason });
    }
    // Counted only once the batch's jobs exist, so the ledger never counts a row as queued that is not.
    if (!o.dryRun) await o.ledger.recordBatch(rejected, { rows: rowsRead, accepted: counted, alreadyQueued: already });
  };

  // Each batch goes through two steps, each taken in file order: its rows are claimed in the
  // ledger (duplicate detection relies on the order of claims), then sealed and written. Batch
  // N+1 is claimed while batch N is written, and batch N+2 is read meanwhile: the parse is CPU in
  // this process, the writes mostly waiting on Redis, so they overlap. At most two batches are
  // in flight besides the one being read, which keeps memory flat.
  let claimed: Promise<unknown> = Promise.resolve();
  let written: Promise<void> = Promise.resolve();
  let writtenBefore: Promise<void> = Promise.resolve();
  let pending: Pending = [];
  let rejected: RejectedRecord[] = [];
  let rowsSinceFlush = 0;
  const startFlush = async () => {
    await writtenBefore;
    const [batch, rej, rows] = [pending, rejected, rowsSinceFlush];
    pending = [];
    rejected = [];
    rowsSinceFlush = 0;
    const claims = claimed.then(() => (batch.length > 0 ? o.ledger.claimRows(importId, batch.map((b) => ({ jobId: b.jobId, line: b.row.line }))) : []));
    claimed = claims;
    writtenBefore = written;
    written = Promise.all([claims, writtenBefore]).then(([c]) => write(batch, c, rej, rows));
    // Handled here so a failure waits, unreported, for the next `await`, which rethrows it.
    claims.catch(() => undefined);
    written.catch(() => undefined);
  };

  try {
    try {
      for await (const rec of readCsvRecords(o.path)) {
        if (o.signal?.aborted) break;
        progress.rows++;
        rowsSinceFlush++;
        if (rec.kind === 'malformed') {
          rejected.push({ line: rec.line, email: rec.email, reason: rec.reason });
        } else {
          const result = validateRow(rec.fields, rec.line, o.defaults);
          if (result.ok) pending.push({ row: result.row, jobId: jobIdFor(result.row.email) });
          else rejected.push(result.rejected);
        }
        if (pending.length >= batchSize || rejected.length >= batchSize) {
          await startFlush();
          o.onBatch?.({ ...progress });
        }
      }
    } finally {
      // The rows read before an unreadable part are valid: they are queued and counted, so none
      // is lost, before the part that could not be read is reported.
      await startFlush();
      await written;
    }
  } finally {
    // Released even when a write failed, so that a re-import can take over the rows this one
    // claimed but never queued (see the ledger's claim script).
    await o.ledger.releaseImport(importId).catch(() => undefined);
  }
  o.onBatch?.({ ...progress });
  return progress;
}
