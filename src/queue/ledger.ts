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

/**
 * Claims each (jobId, line) for import ARGV[1], unless an earlier row holds it.
 * The batch comes as one string, `jobId line,jobId line,…` (job ids are hex), so
 * it is one argument to encode rather than two per row; only the rows claimed
 * before come back, as (1-based index, earlier "<import>:<line>") pairs, since
 * nearly every row is new.
 *
 * A claim is taken over when the import that made it is gone (its lease in
 * KEYS[3] lapsed or was released) and left neither a job (key prefix ARGV[3])
 * nor an outcome: that import died between claiming the row and queueing it,
 * and without the takeover a re-import would call the row "already queued"
 * and it would never run. A live import's claims are never taken: it is about
 * to queue them. Each call renews this import's lease for ARGV[4] ms.
 */
const CLAIM_ROWS = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[3], ARGV[1], now + tonumber(ARGV[4]))
local out = {}
local i = 0
for id, line in string.gmatch(ARGV[2], '([^ ,]+) ([^,]+)') do
  i = i + 1
  local mine = ARGV[1] .. ':' .. line
  if redis.call('HSETNX', KEYS[1], id, mine) == 0 then
    local prev = redis.call('HGET', KEYS[1], id)
    local by = string.match(prev, '^([^:]+):')
    local lease = by and by ~= ARGV[1] and tonumber(redis.call('HGET', KEYS[3], by) or '0') or nil
    if lease and lease < now and redis.call('EXISTS', ARGV[3] .. id) == 0 and redis.call('HEXISTS', KEYS[2], id) == 0 then
      redis.call('HSET', KEYS[1], id, mine)
    else
      out[#out + 1] = i
      out[#out + 1] = prev
    end
  end
end
return out`;

/** How long an import's claims stay its own without a new batch: far longer than one batch takes. */
const IMPORT_LEASE_MS = 120_000;

const BUCKET_S = 10;
const bucketOf = (ms: number) => Math.floor(ms / 1000 / BUCKET_S);
/** `<outcome>|<error type>|<json>` → the record. */
const parseStored = (v: string) => JSON.parse(v.slice(v.indexOf('|', v.indexOf('|') + 1) + 1)) as OutcomeRecord;

type LedgerRedis = Redis & {
  igRecordOutcome(outcomes: string, meta: string, finished: string, metrics: string, jobId: string, outcome: string, json: string, errorType: string, bucket: string, ...metricPairs: Array<string | number>): Promise<number>;
  igBumpMetrics(metrics: string, ...pairs: Array<string | number>): Promise<number>;
  igClaimRows(seen: string, outcomes: string, imports: string, importId: string, rows: string, jobKeyPrefix: string, leaseMs: number): Promise<Array<number | string>>;
};

export class Ledger {
  readonly keys: { outcomes: string; rejected: string; seen: string; imports: string; meta: string; finished: string; metrics: string };
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
      imports: `${base}:imports`,
      meta: `${base}:meta`,
      finished: `${base}:finished`,
      metrics: `${base}:metrics`,
    };
    if (!('igRecordOutcome' in redis)) {
      redis.defineCommand('igRecordOutcome', { numberOfKeys: 4, lua: RECORD_OUTCOME });
      redis.defineCommand('igBumpMetrics', { numberOfKeys: 1, lua: BUMP_METRICS });
      redis.defineCommand('igClaimRows', { numberOfKeys: 3, lua: CLAIM_ROWS });
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

  /** Claims rows for one import; returns, per row, the earlier claim ('' when new or taken over). */
  async claimRows(importId: string, rows: ReadonlyArray<{ jobId: string; line: number }>): Promise<string[]> {
    if (rows.length === 0) return [];
    const batch = rows.map((r) => `${r.jobId} ${r.line}`).join(',');
    const earlier = await this.redis.igClaimRows(this.keys.seen, this.keys.outcomes, this.keys.imports, importId, batch, `${PREFIX}:${this.queue}:`, IMPORT_LEASE_MS);
    const claims = new Array<string>(rows.length).fill('');
    for (let k = 0; k < earlier.length; k += 2) claims[Number(earlier[k]) - 1] = String(earlier[k + 1]);
    return claims;
  }

  /** Ends an import's lease: every row it claimed is queued or recorded by now, or never will be. */
  async releaseImport(importId: string): Promise<void> {
    await this.redis.hdel(this.keys.imports, importId);
  }

  /** Records one imported batch in a single transaction: its rejected rows and its counts. */
  async recordBatch(rejected: readonly RejectedRecord[], counts: { rows: number; accepted: number; alreadyQueued: number }): Promise<void> {
    const changed = Object.entries(counts).filter(([, v]) => v !== 0);
    if (rejected.length === 0 && changed.length === 0) return;
    const m = this.redis.multi();
    for (const r of rejected) m.hset(this.keys.rejected, String(r.line), JSON.stringify(r));
    if (rejected.length > 0) m.hincrby(this.keys.meta, 'rejected', rejected.length);
    for (const [k, v] of changed) m.hincrby(this.keys.meta, k, v);
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
