import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import pRetry from 'p-retry';
import { classifyApiError } from '../core/classify-api-error.js';
import { findOrphans, indexGrants, planRow, type ExistingGrant } from '../core/reconcile-plan.js';
import { listImapGrants } from '../nylas/list-grants.js';
import { createNylasClient } from '../nylas/sdk.js';
import { importCsv, type RowPlan } from '../queue/import-csv.js';
import { CsvFile } from '../reports/csv-file.js';
import { connectRedis } from '../queue/redis.js';
import { acquireRunLock } from '../queue/run-lock.js';
import type { RunSummary } from '../reports/write-reports.js';
import { openRun } from './run-context.js';
import { runPipeline, type RunPipelineOptions } from './run-pipeline.js';

export interface ReconcileOptions extends Omit<RunPipelineOptions, 'plan' | 'onRow' | 'lockLabel' | 'lockHeld'> {
  /** Write plan.csv and orphans.csv, change nothing. */
  dryRun: boolean;
  /** Delete grants that no row names. Off unless asked for. */
  deleteOrphans: boolean;
}

export interface ReconcileResult {
  plan: Record<RowPlan['action'], number>;
  orphans: number;
  orphansDeleted: number;
  existingGrants: number;
  planPath: string;
  orphansPath: string;
  /** Absent for a dry run. */
  summary?: RunSummary;
}

export const PLAN_COLUMNS = ['line', 'email', 'action', 'grant_id', 'grant_status', 'reason'] as const;
export const ORPHAN_COLUMNS = ['email', 'grant_id', 'grant_status', 'action'] as const;

/**
 * `reconcile`: make Nylas match the CSV, doing only what is missing. Reads
 * every IMAP grant (offset paging), plans each row (create, re-authenticate,
 * skip), then runs the same pipeline as `run` with the plan, so valid grants
 * get no API call at all. Grants no row names are listed as orphans.
 */
export async function reconcile(o: ReconcileOptions): Promise<ReconcileResult> {
  // Taken before anything else, so an overlapping reconciliation does no work at all.
  const lockRedis = o.dryRun ? undefined : await connectRedis(o.redisUrl);
  const lock = lockRedis ? await acquireRunLock(lockRedis, o.queueName, 'reconcile').catch((e: unknown) => {
    lockRedis.disconnect();
    throw e;
  }) : undefined;
  try {
    return await reconcileLocked(o);
  } finally {
    await lock?.release().catch(() => undefined);
    lockRedis?.disconnect();
  }
}

async function reconcileLocked(o: ReconcileOptions): Promise<ReconcileResult> {
  await mkdir(o.outDir, { recursive: true, mode: 0o700 });
  const nylas = createNylasClient({ apiKey: o.apiKey, apiUri: o.apiUri, timeout: o.worker.apiTimeoutS });
  const grants: ExistingGrant[] = [];
  for await (const g of listImapGrants(nylas)) grants.push(g);
  const byEmail = indexGrants(grants);
  o.log.info({ event: 'reconcile:grants-listed', grants: grants.length }, `found ${grants.length} IMAP grant(s)`);

  const planPath = join(o.outDir, 'plan.csv');
  const orphansPath = join(o.outDir, 'orphans.csv');
  const planFile = new CsvFile(planPath, PLAN_COLUMNS);
  const counts: ReconcileResult['plan'] = { create: 0, reauthenticate: 0, skip: 0, reject: 0, already_queued: 0 };
  const wanted = new Set<string>();
  const onRow = async (entry: RowPlan) => {
    counts[entry.action]++;
    // A rejected row still names a mailbox the team wants: its grant is no orphan.
    wanted.add(entry.email.toLowerCase());
    await planFile.write(entry as unknown as Record<string, unknown>);
  };
  const plan = (row: { email: string }) => planRow(byEmail.get(row.email.toLowerCase()));

  let summary: RunSummary | undefined;
  try {
    if (o.dryRun) {
      // Duplicate detection works through Redis; a scratch queue keeps the real one untouched.
      const scratch = await openRun(o.redisUrl, `${o.queueName}-plan-${randomUUID().slice(0, 8)}`, o.log);
      try {
        await importCsv({ path: o.csvPath, queue: scratch.queue, ledger: scratch.ledger, ring: o.ring, defaults: o.defaults, log: o.log, plan, onRow, dryRun: true, signal: o.signal });
      } finally {
        await scratch.ledger.clear();
        await scratch.close();
      }
    } else {
      summary = await runPipeline({ ...o, plan, onRow, lockHeld: true });
    }
  } finally {
    await planFile.close();
  }

  const orphanFile = new CsvFile(orphansPath, ORPHAN_COLUMNS);
  const orphans = findOrphans(grants, wanted);
  let deleted = 0;
  try {
    for (const g of orphans) {
      let action = 'kept';
      if (o.deleteOrphans && !o.dryRun) {
        await pRetry(() => nylas.grants.destroy({ grantId: g.id }), {
          retries: 4,
          shouldRetry: ({ error }) => ['provider_not_responding', 'rate_limited'].includes(classifyApiError(error).type),
        });
        deleted++;
        action = 'deleted';
        o.log.info({ event: 'reconcile:orphan-deleted', email: g.email, grant_id: g.id }, 'deleted an orphan grant');
      }
      await orphanFile.write({ email: g.email, grant_id: g.id, grant_status: g.grantStatus, action });
    }
  } finally {
    await orphanFile.close();
  }
  return { plan: counts, orphans: orphans.length, orphansDeleted: deleted, existingGrants: grants.length, planPath, orphansPath, summary };
}
