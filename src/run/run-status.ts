import type { Queue } from 'bullmq';
import type { GrantJobData } from '../queue/job.js';
import { CallGate } from '../queue/call-gate.js';
import type { Ledger } from '../queue/ledger.js';

/** Where a run stands, read from the ledger and the queue: right with any number of processes. */
export interface RunStatus {
  queue: string;
  rows: number;
  accepted: number;
  granted: number;
  dead_lettered: number;
  expired: number;
  rejected: number;
  /** Rows with a final state. */
  finished: number;
  waiting: number;
  active: number;
  /** Jobs waiting out a backoff before their next attempt. */
  retrying: number;
  import_done: boolean;
  halted?: string;
  /** Rows finished per second over the last minute. */
  rate_per_s: number;
  /** Seconds to go at that rate; absent when nothing moves or the import is still running. */
  eta_s?: number;
  top_errors: Array<{ error_type: string; rows: number }>;
  api_calls: number;
  api_latency_avg_ms?: number;
  retries: number;
  rate_limited: number;
  /** IMAP hosts whose circuit breaker is open: their jobs wait, one probe at a time. */
  open_breakers: Array<{ host: string; since: string }>;
}

export async function readRunStatus(queue: Queue<GrantJobData>, ledger: Ledger): Promise<RunStatus> {
  const c = await ledger.counts();
  // A run younger than a minute is measured over its own age, not diluted over 60 s.
  const windowS = c.startedAt ? Math.min(60, Math.max(5, (Date.now() - c.startedAt) / 1000)) : 60;
  const [jobs, rate, errors, m, breakers] = await Promise.all([
    queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized'),
    ledger.finishRate(windowS),
    ledger.errorTypes(),
    ledger.metrics(),
    new CallGate(ledger.client, ledger.queue).openBreakers(),
  ]);
  const finished = c.granted + c.dead_lettered + c.expired;
  const remaining = Math.max(0, c.accepted - finished);
  const calls = m.latency_count ?? 0;
  return {
    queue: ledger.queue,
    rows: c.rows,
    accepted: c.accepted,
    granted: c.granted,
    dead_lettered: c.dead_lettered,
    expired: c.expired,
    rejected: c.rejected,
    finished,
    waiting: (jobs.waiting ?? 0) + (jobs.prioritized ?? 0),
    active: jobs.active ?? 0,
    retrying: jobs.delayed ?? 0,
    import_done: c.importDone,
    ...(c.halt ? { halted: c.halt } : {}),
    rate_per_s: Math.round(rate * 10) / 10,
    ...(rate > 0 && c.importDone ? { eta_s: Math.round(remaining / rate) } : {}),
    top_errors: errors.slice(0, 5).map(([error_type, rows]) => ({ error_type, rows })),
    api_calls: calls,
    ...(calls > 0 ? { api_latency_avg_ms: Math.round((m.latency_sum_ms ?? 0) / calls) } : {}),
    retries: m.retries ?? 0,
    rate_limited: m.rate_limited ?? 0,
    open_breakers: breakers.map((b) => ({ host: b.host, since: new Date(b.since).toISOString() })),
  };
}

export const formatDuration = (s: number) => {
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
};

export function formatStatus(s: RunStatus): string {
  const lines = [
    `Queue:          ${s.queue}${s.halted ? `  (HALTED: ${s.halted})` : ''}`,
    `Rows:           ${s.rows} read${s.import_done ? '' : ' so far (import running)'}, ${s.accepted} accepted, ${s.rejected} rejected`,
    `Final:          ${s.granted} granted, ${s.dead_lettered} dead-lettered, ${s.expired} expired (${s.finished}/${s.accepted})`,
    `In progress:    ${s.waiting} waiting, ${s.active} active, ${s.retrying} retrying`,
    `Rate:           ${s.rate_per_s}/s over the last minute${s.eta_s !== undefined ? `, ETA ${formatDuration(s.eta_s)}` : ''}`,
    `API:            ${s.api_calls} calls${s.api_latency_avg_ms !== undefined ? `, ${s.api_latency_avg_ms} ms average` : ''}, ${s.retries} retries, ${s.rate_limited} 429s`,
    `Top errors:     ${s.top_errors.length ? s.top_errors.map((e) => `${e.error_type} ${e.rows}`).join(', ') : 'none'}`,
    `Open breakers:  ${s.open_breakers.length ? s.open_breakers.map((b) => `${b.host} (since ${b.since})`).join(', ') : 'none'}`,
  ];
  return `${lines.join('\n')}\n`;
}
