import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CsvFile } from './csv-file.js';
import type { Ledger, LedgerCounts } from '../queue/ledger.js';

export const GRANT_COLUMNS = ['line', 'email', 'grant_id', 'grant_status', 'grant_action', 'imap_host', 'attempts', 'request_id', 'warnings', 'finished_at'] as const;
export const DEAD_LETTER_COLUMNS = [
  'line',
  'email',
  'imap_host',
  'error_type',
  'http_status',
  'message',
  'attempts',
  'request_id',
  'password_fingerprint',
  'warnings',
  'finished_at',
] as const;
export const REJECTED_COLUMNS = ['line', 'email', 'reason'] as const;

export interface RunSummary {
  queue: string;
  started_at?: string;
  finished_at: string;
  duration_s?: number;
  rows: number;
  accepted: number;
  already_queued: number;
  granted: number;
  created: number;
  reauthenticated: number;
  /** Reconciliation only: valid grants left alone, without an API call. */
  unchanged: number;
  /** Rows a person connected through a hosted-auth invite after their password failed. */
  hosted_auth: number;
  dead_lettered: number;
  expired: number;
  rejected: number;
  dead_letters_by_error_type: Record<string, number>;
  rows_per_second?: number;
  /** Times a host's circuit breaker opened during the run. */
  breakers_opened: number;
  halted?: string;
  import_error?: string;
  reports: { grants: string; dead_letter: string; rejected: string; summary: string };
}

/**
 * Writes grants.csv, dead-letter.csv, rejected.csv and summary.json from the
 * ledger. None holds a password: the ledger never had one.
 */
export async function writeReports(ledger: Ledger, outDir: string, finishedAt = Date.now()): Promise<RunSummary> {
  await mkdir(outDir, { recursive: true, mode: 0o700 });
  const paths = {
    grants: join(outDir, 'grants.csv'),
    dead_letter: join(outDir, 'dead-letter.csv'),
    rejected: join(outDir, 'rejected.csv'),
    summary: join(outDir, 'summary.json'),
  };
  const grants = new CsvFile(paths.grants, GRANT_COLUMNS);
  const dead = new CsvFile(paths.dead_letter, DEAD_LETTER_COLUMNS);
  const rejected = new CsvFile(paths.rejected, REJECTED_COLUMNS);
  let created = 0;
  let reauthenticated = 0;
  let unchanged = 0;
  let hostedAuth = 0;
  const byType: Record<string, number> = {};
  for await (const r of ledger.outcomes()) {
    if (r.outcome === 'granted') {
      if (r.grant_action === 'reauthenticated') reauthenticated++;
      else if (r.grant_action === 'unchanged') unchanged++;
      else if (r.grant_action === 'hosted_auth') hostedAuth++;
      else created++;
      await grants.write(r as unknown as Record<string, unknown>);
    } else {
      byType[r.error_type ?? r.outcome] = (byType[r.error_type ?? r.outcome] ?? 0) + 1;
      await dead.write(r as unknown as Record<string, unknown>);
    }
  }
  for await (const r of ledger.rejected()) await rejected.write(r as unknown as Record<string, unknown>);
  await Promise.all([grants.close(), dead.close(), rejected.close()]);

  const c: LedgerCounts = await ledger.counts();
  const metrics = await ledger.metrics();
  const duration = c.startedAt ? (finishedAt - c.startedAt) / 1000 : undefined;
  const summary: RunSummary = {
    queue: ledger.queue,
    ...(c.startedAt ? { started_at: new Date(c.startedAt).toISOString() } : {}),
    finished_at: new Date(finishedAt).toISOString(),
    ...(duration !== undefined ? { duration_s: Math.round(duration * 10) / 10 } : {}),
    rows: c.rows,
    accepted: c.accepted,
    already_queued: c.alreadyQueued,
    granted: c.granted,
    created,
    reauthenticated,
    unchanged,
    hosted_auth: hostedAuth,
    dead_lettered: c.dead_lettered,
    expired: c.expired,
    rejected: c.rejected,
    dead_letters_by_error_type: byType,
    ...(duration ? { rows_per_second: Math.round((c.rows / duration) * 10) / 10 } : {}),
    breakers_opened: metrics.breakers_opened ?? 0,
    ...(c.halt ? { halted: c.halt } : {}),
    ...(c.importError ? { import_error: c.importError } : {}),
    reports: paths,
  };
  await writeFile(paths.summary, `${JSON.stringify(summary, null, 2)}\n`, { mode: 0o600 });
  await chmod(paths.summary, 0o600);
  return summary;
}
