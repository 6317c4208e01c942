import type { Redis } from 'ioredis';
import type { Outcome } from '../types.js';
import { PREFIX } from './job.js';

/**
 * The ledger: the compact, non-secret record of a run in Redis, shared by
 * every process. Each row's final outcome is one hash field, and the counters
 * are kept by the same Lua call that writes it, so a job that runs twice
 * (after a crash) is still counted once, whatever process wrote it.
 */

export interface OutcomeRecord {
  outcome: Exclude<Outcome, 'rejected'>;
  line: number;
  email: string;
  imap_host?: string;
  grant_id?: string;
  grant_status?: string;
  /** `created` for a new grant, `reauthenticated` for an existing one, `unchanged` when reconciliation found it valid. */
  grant_action?: 'created' | 'reauthenticated' | 'unchanged' | 'hosted_auth';
  error_type?: string;
  http_status?: number;
  message?: string;
  attempts: number;
  request_id?: string;
  password_fingerprint?: string;
  warnings?: string;
  finished_at: string;
}

export interface RejectedRecord {
  line: number;
  email: string;
  reason: string;
}

export interface LedgerCounts {
  rows: number;
  accepted: number;
  alreadyQueued: number;
  granted: number;
  dead_lettered: number;
  expired: number;
  rejected: number;
  importDone: boolean;
  importError?: string;
  halt?: string;
  startedAt?: number;
}

/**
 * Stored as `<outcome>|<error type>|<json>`. Counters per outcome and per
 * error type move with the record, so a row written twice is counted once.
 * KEYS: outcomes, meta, finished, metrics.
 * ARGV: jobId, outcome, json, error type ('' for none), 10-second bucket,
 * then metric/increment pairs (the call's latency), added whatever happened.
 */
const RECORD_OUTCOME = `
for i = 6, #ARGV, 2 do redis.call('HINCRBY', KEYS[4], ARGV[i], ARGV[i + 1]) end
local prev = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. ARGV[4] .. '|' .. ARGV[3])
if prev then
  local old, olderr = string.match(prev, '^([^|]*)|([^|]*)|')
  if old == ARGV[2] and olderr == ARGV[4] then return 0 end
  redis.call('HINCRBY', KEYS[2], old, -1)
  if olderr ~= '' then redis.call('HINCRBY', KEYS[2], 'err:' .. olderr, -1) end
else
  redis.call('HINCRBY', KEYS[3], ARGV[5], 1)
end
redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
if ARGV[4] ~= '' then redis.call('HINCRBY', KEYS[2], 'err:' .. ARGV[4], 1) end
return 1`;

/** KEYS: metrics. ARGV: metric/increment pairs. One command, however many metrics. */
const BUMP_METRICS = `
for i = 1, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1`;

/** For each (jobId, line): '' if first seen in this import, else the earlier "<import>:<line>". */
const CLAIM_ROWS = `
local out = {}
for i = 2, #ARGV, 2 do
  local v = ARGV[1] .. ':' .. ARGV[i + 1]
  if redis.call('HSETNX', KEYS[1], ARGV[i], v) == 1 then
    out[#out + 1] = ''
  else
    out[#out + 1] = redis.call('HGET', KEYS[1], ARGV[i])
  end
end
return out`;

const BUCKET_S = 10;
const bucketOf = (ms: number) => Math.floor(ms / 1000 / BUCKET_S);
/** `<outcome>|<error type>|<json>` → the record. */
const parseStored = (v: string) => JSON.parse(v.slice(v.indexOf('|', v.indexOf('|') + 1) + 1)) as OutcomeRecord;

type LedgerRedis = Redis & {
  igRecordOutcome(outcomes: string, meta: string, finished: string, metrics: string, jobId: string, outcome: string, json: string, errorType: string, bucket: string, ...metricPairs: Array<string | number>): Promise<number>;
  igBumpMetrics(metrics: string, ...pairs: Array<string | number>): Promise<number>;
  igClaimRows(seen: string, importId: string, ...pairs: string[]): Promise<string[]>;
};

export class Ledger {
  readonly keys: { outcomes: string; rejected: string; seen: string; meta: string; finished: string; metrics: string };
  private readonly redis: LedgerRedis;

  constructor(
    redis: Redis,
    readonly queue: string,
  ) {
    const base = `${PREFIX}:${queue}:ledger`;
    this.keys = {
      outcomes: `${base}:outcomes`,
      rejected: `${base}:rejected`,
      seen: `${base}:seen`,
      meta: `${base}:meta`,
      finished: `${base}:finished`,
      metrics: `${base}:metrics`,
    };
    if (!('igRecordOutcome' in redis)) {
      redis.defineCommand('igRecordOutcome', { numberOfKeys: 4, lua: RECORD_OUTCOME });
      redis.defineCommand('igBumpMetrics', { numberOfKeys: 1, lua: BUMP_METRICS });
      redis.defineCommand('igClaimRows', { numberOfKeys: 1, lua: CLAIM_ROWS });
    }
    this.redis = redis as LedgerRedis;
  }

  /** The connection the ledger uses, for helpers that keep run state beside it. */
  get client(): Redis {
    return this.redis;
  }

  /** Writes a row's final outcome; `metrics` (the last call's latency) ride along in the same round trip. */
  async recordOutcome(jobId: string, record: OutcomeRecord, metrics: Record<string, number> = {}): Promise<void> {
    const errorType = record.outcome === 'granted' ? '' : (record.error_type ?? record.outcome);
    await this.redis.igRecordOutcome(
      this.keys.outcomes, this.keys.meta, this.keys.finished, this.keys.metrics,
      jobId, record.outcome, JSON.stringify(record), errorType, String(bucketOf(Date.now())), ...Object.entries(metrics).flat(),
    );
  }

  async outcomeOf(jobId: string): Promise<OutcomeRecord | undefined> {
    const v = await this.redis.hget(this.keys.outcomes, jobId);
    return v ? parseStored(v) : undefined;
  }

  /** Rows that reached a final state in about the last `windowS` seconds (10-second buckets), per second. */
  async finishRate(windowS = 60, now = Date.now()): Promise<number> {
    const last = bucketOf(now);
    const buckets = Array.from({ length: Math.ceil(windowS / BUCKET_S) }, (_, i) => String(last - i));
    const values = await this.redis.hmget(this.keys.finished, ...buckets);
    return values.reduce((a, v) => a + Number(v ?? 0), 0) / windowS;
  }

  /** Counters kept by workers: retries, 429s, API latency histogram. */
  async bumpMetrics(fields: Record<string, number>): Promise<void> {
    const pairs = Object.entries(fields).flat();
    if (pairs.length) await this.redis.igBumpMetrics(this.keys.metrics, ...pairs);
  }

  async metrics(): Promise<Record<string, number>> {
    const raw = await this.redis.hgetall(this.keys.metrics);
    return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, Number(v)]));
  }

  /** Final failures by error type, most frequent first. */
  async errorTypes(): Promise<Array<[string, number]>> {
    const m = await this.redis.hgetall(this.keys.meta);
    return Object.entries(m)
      .filter(([k, v]) => k.startsWith('err:') && Number(v) > 0)
      .map(([k, v]) => [k.slice(4), Number(v)] as [string, number])
      .sort((a, b) => b[1] - a[1]);
  }

  /** Claims rows for one import; returns, per row, the earlier claim ('' when new). */
  async claimRows(importId: string, rows: ReadonlyArray<{ jobId: string; line: number }>): Promise<string[]> {
    if (rows.length === 0) return [];
    return this.redis.igClaimRows(this.keys.seen, importId, ...rows.flatMap((r) => [r.jobId, String(r.line)]));
  }

  async recordRejected(rows: readonly RejectedRecord[]): Promise<void> {
    if (rows.length === 0) return;
    const m = this.redis.multi();
    for (const r of rows) m.hset(this.keys.rejected, String(r.line), JSON.stringify(r));
    m.hincrby(this.keys.meta, 'rejected', rows.length);
    await m.exec();
  }

  async addImported(fields: { rows: number; accepted: number; alreadyQueued: number }): Promise<void> {
    const m = this.redis.multi();
    for (const [k, v] of Object.entries(fields)) if (v) m.hincrby(this.keys.meta, k, v);
    await m.exec();
  }

  /** Marks the start of a run once, whichever process gets there first. */
  async markStarted(at = Date.now()): Promise<void> {
    await this.redis.hsetnx(this.keys.meta, 'startedAt', at);
  }

  async setMeta(fields: Record<string, string | number>): Promise<void> {
    await this.redis.hset(this.keys.meta, fields);
  }

  async counts(): Promise<LedgerCounts> {
    const m = await this.redis.hgetall(this.keys.meta);
    const n = (k: string) => Number(m[k] ?? 0);
    return {
      rows: n('rows'),
      accepted: n('accepted'),
      alreadyQueued: n('alreadyQueued'),
      granted: n('granted'),
      dead_lettered: n('dead_lettered'),
      expired: n('expired'),
      rejected: n('rejected'),
      importDone: m.importDone === '1',
      importError: m.importError || undefined,
      halt: m.halt || undefined,
      startedAt: m.startedAt ? Number(m.startedAt) : undefined,
    };
  }

  /** Streams every outcome record, a page at a time (constant memory at a million rows). */
  async *outcomes(): AsyncGenerator<OutcomeRecord> {
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(this.keys.outcomes, cursor, 'COUNT', 1000);
      cursor = next;
      for (let i = 1; i < flat.length; i += 2) {
        yield parseStored(flat[i]!);
      }
    } while (cursor !== '0');
  }

  async *rejected(): AsyncGenerator<RejectedRecord> {
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(this.keys.rejected, cursor, 'COUNT', 1000);
      cursor = next;
      for (let i = 1; i < flat.length; i += 2) yield JSON.parse(flat[i]!) as RejectedRecord;
    } while (cursor !== '0');
  }

  async clear(): Promise<void> {
    await this.redis.del(...Object.values(this.keys));
  }
}
