import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { PREFIX } from './job.js';

/**
 * Per-host protection, shared by every worker of a queue through Redis.
 *
 * - **Concurrency cap**: at most `perHost` logins in flight per IMAP host. A
 *   slot is a lease (a member of a sorted set scored by its expiry), so a
 *   killed worker's slot frees itself.
 * - **Circuit breaker**: when most of a host's recent jobs end in
 *   provider_not_responding, the breaker opens. The host's jobs are then
 *   delayed, spending no attempt, and one probe job at a time tests it after
 *   each cool-down; the first success closes the breaker. Other hosts are untouched.
 *   A host still down after `maxOpenMs` gets its jobs through again, so they
 *   end as dead letters and the run can finish.
 */
export interface HostGateOptions {
  perHost: number;
  /** How many recent outcomes the breaker looks at, and how many it needs before it may open. */
  window: number;
  minSamples: number;
  /** Share of provider_not_responding among them that opens it. */
  failRatio: number;
  /** Time between probes while open. */
  cooldownMs: number;
  /** Lease of a slot, renewed while the call runs; past it, a dead worker's slot is reclaimed. */
  leaseMs: number;
  /** After the breaker has been open this long, the host's jobs go through again and dead-letter as usual. */
  maxOpenMs: number;
}

export const HOST_GATE_DEFAULTS: HostGateOptions = { perHost: 10, window: 20, minSamples: 10, failRatio: 0.8, cooldownMs: 30_000, leaseMs: 10_000, maxOpenMs: 2 * 3_600_000 };

export type Admission = { go: true; probe: boolean } | { go: false; delayMs: number; reason: 'breaker_open' | 'host_busy' };
export type BreakerChange = 'opened' | 'closed' | 'still_open' | undefined;

const TAKE_SLOT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then return 1 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1] + ARGV[4], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1`;

/** 0: go; -1: go as the probe; n > 0: wait n ms. ARGV: now, probe lease, cool-down, max open. */
const CHECK_BREAKER = `
if redis.call('HGET', KEYS[1], 'state') ~= 'open' then return 0 end
local now = tonumber(ARGV[1])
if now - tonumber(redis.call('HGET', KEYS[1], 'since') or now) > tonumber(ARGV[4]) then return 0 end
local untilT = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
local probe = tonumber(redis.call('HGET', KEYS[1], 'probe') or '0')
if now >= untilT and probe < now then
  redis.call('HSET', KEYS[1], 'probe', now + tonumber(ARGV[2]))
  return -1
end
if untilT > now then return untilT - now end
return tonumber(ARGV[3])`;

/** ARGV: outcome S|F|N, now, window, min samples, fail ratio, cool-down. Returns the change. */
const RECORD_RESULT = `
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
local now = tonumber(ARGV[2])
redis.call('PEXPIRE', KEYS[1], 86400000)
if ARGV[1] == 'N' then return '' end
if state == 'open' then
  if ARGV[1] == 'S' then
    redis.call('DEL', KEYS[1])
    return 'closed'
  end
  redis.call('HSET', KEYS[1], 'until', now + tonumber(ARGV[6]), 'probe', 0)
  return 'still_open'
end
local w = (redis.call('HGET', KEYS[1], 'w') or '') .. ARGV[1]
local size = tonumber(ARGV[3])
if #w > size then w = string.sub(w, -size) end
redis.call('HSET', KEYS[1], 'w', w)
if #w >= tonumber(ARGV[4]) then
  local _, fails = string.gsub(w, 'F', '')
  if fails / #w >= tonumber(ARGV[5]) then
    redis.call('HSET', KEYS[1], 'state', 'open', 'since', now, 'until', now + tonumber(ARGV[6]), 'probe', 0, 'w', '')
    return 'opened'
  end
end
return ''`;

type GateRedis = Redis & {
  igTakeSlot(key: string, now: number, limit: number, member: string, leaseMs: number): Promise<number>;
  igCheckBreaker(key: string, now: number, probeLeaseMs: number, cooldownMs: number, maxOpenMs: number): Promise<number>;
  igRecordHostResult(key: string, outcome: string, now: number, window: number, min: number, ratio: number, cooldownMs: number): Promise<string>;
};

export class HostGate {
  private readonly redis: GateRedis;
  private readonly base: string;

  constructor(
    redis: Redis,
    queue: string,
    readonly opts: HostGateOptions = HOST_GATE_DEFAULTS,
  ) {
    if (!('igTakeSlot' in redis)) {
      redis.defineCommand('igTakeSlot', { numberOfKeys: 1, lua: TAKE_SLOT });
      redis.defineCommand('igCheckBreaker', { numberOfKeys: 1, lua: CHECK_BREAKER });
      redis.defineCommand('igRecordHostResult', { numberOfKeys: 1, lua: RECORD_RESULT });
    }
    this.redis = redis as GateRedis;
    this.base = `${PREFIX}:${queue}:host`;
  }

  private slotsKey = (host: string) => `${this.base}:${host.toLowerCase()}:slots`;
  private breakerKey = (host: string) => `${this.base}:${host.toLowerCase()}:breaker`;

  /**
   * May this job log in to `host` now? Waits up to `waitMs` for a free slot
   * (a wait costs the job nothing; a delay re-queues it without an attempt).
   */
  async admit(host: string, jobId: string, waitMs = 2_000): Promise<Admission> {
    const verdict = await this.redis.igCheckBreaker(this.breakerKey(host), Date.now(), this.opts.leaseMs, this.opts.cooldownMs, this.opts.maxOpenMs);
    if (verdict > 0) return { go: false, delayMs: verdict + Math.floor(Math.random() * 1000), reason: 'breaker_open' };
    const deadline = Date.now() + waitMs;
    for (;;) {
      if ((await this.redis.igTakeSlot(this.slotsKey(host), Date.now(), this.opts.perHost, jobId, this.opts.leaseMs)) === 1) return { go: true, probe: verdict === -1 };
      if (Date.now() >= deadline) return { go: false, delayMs: 500 + Math.floor(Math.random() * 1000), reason: 'host_busy' };
      await sleep(50 + Math.floor(Math.random() * 50));
    }
  }

  /** Keeps a slot held by a call still in flight; a killed worker stops renewing and its slot frees itself. */
  async renew(host: string, jobId: string): Promise<void> {
    await this.redis.zadd(this.slotsKey(host), 'XX', Date.now() + this.opts.leaseMs, jobId);
  }

  /** Frees the slot and feeds the breaker: S success, F provider_not_responding, N anything else. */
  async release(host: string, jobId: string, outcome: 'S' | 'F' | 'N'): Promise<BreakerChange> {
    await this.redis.zrem(this.slotsKey(host), jobId);
    const change = await this.redis.igRecordHostResult(this.breakerKey(host), outcome, Date.now(), this.opts.window, this.opts.minSamples, this.opts.failRatio, this.opts.cooldownMs);
    return (change || undefined) as BreakerChange;
  }

  /** Hosts whose breaker is open now, for status. */
  async openBreakers(): Promise<Array<{ host: string; since: number }>> {
    const out: Array<{ host: string; since: number }> = [];
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${this.base}:*:breaker`, 'COUNT', 200);
      cursor = next;
      for (const key of keys) {
        const [state, since] = await this.redis.hmget(key, 'state', 'since');
        if (state === 'open') out.push({ host: key.slice(this.base.length + 1, -':breaker'.length), since: Number(since) });
      }
    } while (cursor !== '0');
    return out;
  }
}
