import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { PREFIX } from './job.js';

/**
 * Admission of one custom-auth call, shared by every worker of a queue
 * through Redis and decided in one Lua call per job:
 *
 * - **429 pause**: while a 429's pause (`queue.rateLimit`) runs, no call goes
 *   out, including those of jobs already fetched.
 * - **Pace**: calls are spaced `1000 / rate` ms apart across every process
 *   (a GCRA on Redis's clock). Each admitted call reserves its moment and its
 *   job sleeps until then, so no sliding second sends more than `rate + 1`
 *   calls (the way to the API adds a little bunching of its own), and no
 *   process waits for another's round trip to learn it may go.
 * - **Host concurrency cap**: at most `perHost` logins in flight per IMAP
 *   host. A slot is a lease (a member of a sorted set scored by its expiry),
 *   so a killed worker's slot frees itself.
 * - **Circuit breaker**: when most of a host's recent jobs end in
 *   provider_not_responding, the breaker opens. The host's jobs are then
 *   delayed, spending no attempt, and one probe job at a time tests it after
 *   each cool-down; the first success closes the breaker. Other hosts are untouched.
 *   A host still down after `maxOpenMs` gets its jobs through again, so they
 *   end as dead letters and the run can finish.
 */
export interface CallGateOptions {
  /** Custom-auth calls per second across every worker. */
  rate: number;
  /** The longest a job sleeps for its reserved moment; past it, the job is delayed instead of holding a worker slot. */
  maxPaceWaitMs: number;
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
// Every time here is Redis's clock (TIME), so workers on machines whose clocks disagree still agree.

export const CALL_GATE_DEFAULTS: CallGateOptions = {
  rate: 25,
  maxPaceWaitMs: 2_000,
  perHost: 10,
  window: 20,
  minSamples: 10,
  failRatio: 0.8,
  cooldownMs: 30_000,
  leaseMs: 10_000,
  maxOpenMs: 2 * 3_600_000,
};

/**
 * BullMQ only honours `queue.rateLimit` (our 429 pause) on workers that have a
 * limiter, so workers get one that never limits by count: `queue.rateLimit`
 * stores Number.MAX_SAFE_INTEGER in the limiter key, far above this `max`.
 * Pacing is the call gate's job.
 */
export const PAUSE_ONLY_LIMITER = { max: 1e12, duration: 1_000 };

export type Admission =
  | { go: true; probe: boolean }
  | { go: false; delayMs: number; reason: 'breaker_open' | 'host_busy' | 'rate_limited' | 'paced' };
export type BreakerChange = 'opened' | 'closed' | 'still_open' | undefined;

/**
 * KEYS: BullMQ's limiter, pace, breaker, slots.
 * ARGV: job id, has host (1/0), per host, lease, cool-down, max open, interval, max pace wait, pause marker.
 * Returns {code, ms}: 0 go after ms, 1 go as the breaker's probe after ms,
 * 2 breaker open (retry in ms), 3 host busy, 4 paused by a 429 (ms left), 5 pace queue longer than the max wait (ms over).
 */
const ADMIT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if tonumber(redis.call('GET', KEYS[1]) or '0') >= tonumber(ARGV[9]) then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl > 0 then return {4, ttl} end
end
local hasHost = ARGV[2] == '1'
local lease = tonumber(ARGV[4])
local probe = 0
if hasHost then
  if redis.call('HGET', KEYS[3], 'state') == 'open' then
    local since = tonumber(redis.call('HGET', KEYS[3], 'since') or now)
    if now - since <= tonumber(ARGV[6]) then
      local untilT = tonumber(redis.call('HGET', KEYS[3], 'until') or '0')
      local probeUntil = tonumber(redis.call('HGET', KEYS[3], 'probe') or '0')
      if now >= untilT and probeUntil < now then
        probe = 1
      elseif untilT > now then
        return {2, untilT - now}
      else
        return {2, tonumber(ARGV[5])}
      end
    end
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
  if not redis.call('ZSCORE', KEYS[4], ARGV[1]) and redis.call('ZCARD', KEYS[4]) >= tonumber(ARGV[3]) then return {3, 0} end
end
local interval = tonumber(ARGV[7])
local tat = math.max(tonumber(redis.call('GET', KEYS[2]) or '0'), now)
local wait = tat - now
if wait > tonumber(ARGV[8]) then return {5, math.ceil(wait - tonumber(ARGV[8]))} end
redis.call('SET', KEYS[2], tostring(tat + interval), 'PX', math.ceil(wait + interval) + 60000)
if hasHost then
  if probe == 1 then redis.call('HSET', KEYS[3], 'probe', now + lease) end
  redis.call('ZADD', KEYS[4], now + wait + lease, ARGV[1])
  redis.call('PEXPIRE', KEYS[4], math.ceil(wait + lease))
end
return {probe, math.floor(wait)}`;

/**
 * Frees the slot and feeds the breaker. KEYS: slots, breaker.
 * ARGV: job id, outcome S|F|N, window, min samples, fail ratio, cool-down. Returns the change.
 */
const RELEASE = `
redis.call('ZREM', KEYS[1], ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HGET', KEYS[2], 'state') or 'closed'
redis.call('PEXPIRE', KEYS[2], 86400000)
if ARGV[2] == 'N' then return '' end
if state == 'open' then
  if ARGV[2] == 'S' then
    redis.call('DEL', KEYS[2])
    return 'closed'
  end
  redis.call('HSET', KEYS[2], 'until', now + tonumber(ARGV[6]), 'probe', 0)
  return 'still_open'
end
local w = (redis.call('HGET', KEYS[2], 'w') or '') .. ARGV[2]
local size = tonumber(ARGV[3])
if #w > size then w = string.sub(w, -size) end
redis.call('HSET', KEYS[2], 'w', w)
if #w >= tonumber(ARGV[4]) then
  local _, fails = string.gsub(w, 'F', '')
  if fails / #w >= tonumber(ARGV[5]) then
    redis.call('HSET', KEYS[2], 'state', 'open', 'since', now, 'until', now + tonumber(ARGV[6]), 'probe', 0, 'w', '')
    return 'opened'
  end
end
return ''`;

/** Extends a held slot's lease from Redis's clock. KEYS: slots. ARGV: job id, lease. */
const RENEW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])`;

type GateRedis = Redis & {
  igAdmit(limiter: string, pace: string, breaker: string, slots: string, ...args: Array<string | number>): Promise<[number, number]>;
  igRenew(slots: string, jobId: string, leaseMs: number): Promise<number>;
  igRelease(slots: string, breaker: string, ...args: Array<string | number>): Promise<string>;
};

const jitter = (ms: number) => Math.floor(Math.random() * ms);

export class CallGate {
  private readonly redis: GateRedis;
  private readonly base: string;
  private readonly limiterKey: string;
  private readonly paceKey: string;

  constructor(
    redis: Redis,
    queue: string,
    readonly opts: CallGateOptions = CALL_GATE_DEFAULTS,
  ) {
    if (!('igAdmit' in redis)) {
      redis.defineCommand('igAdmit', { numberOfKeys: 4, lua: ADMIT });
      redis.defineCommand('igRelease', { numberOfKeys: 2, lua: RELEASE });
      redis.defineCommand('igRenew', { numberOfKeys: 1, lua: RENEW });
    }
    this.redis = redis as GateRedis;
    this.base = `${PREFIX}:${queue}:host`;
    // BullMQ's own key for the queue's rate limit, which queue.rateLimit sets on a 429.
    this.limiterKey = `${PREFIX}:${queue}:limiter`;
    this.paceKey = `${PREFIX}:${queue}:pace`;
  }

  private slotsKey = (host: string) => `${this.base}:${host.toLowerCase()}:slots`;
  private breakerKey = (host: string) => `${this.base}:${host.toLowerCase()}:breaker`;

  /**
   * May this job call now? Resolves when it may (after sleeping until its
   * reserved moment), or with a delay for the job: a delay re-queues it
   * without spending an attempt. Waits up to `waitMs` for a host slot or a short 429 pause.
   */
  async admit(host: string | undefined, jobId: string, waitMs = 2_000): Promise<Admission> {
    const o = this.opts;
    const h = host ?? '';
    const deadline = Date.now() + waitMs;
    for (;;) {
      const [code, ms] = await this.redis.igAdmit(
        this.limiterKey, this.paceKey, this.breakerKey(h), this.slotsKey(h),
        jobId, host ? 1 : 0, o.perHost, o.leaseMs, o.cooldownMs, o.maxOpenMs, 1000 / o.rate, o.maxPaceWaitMs, PAUSE_ONLY_LIMITER.max,
      );
      switch (code) {
        case 0:
        case 1:
          if (ms > 0) await sleep(ms);
          return { go: true, probe: code === 1 };
        case 2:
          return { go: false, delayMs: ms + jitter(1000), reason: 'breaker_open' };
        case 4:
          if (Date.now() + ms > deadline) return { go: false, delayMs: ms + jitter(250), reason: 'rate_limited' };
          await sleep(ms + jitter(50));
          break;
        case 5:
          return { go: false, delayMs: ms + jitter(Math.min(1000, o.maxPaceWaitMs)), reason: 'paced' };
        default:
          if (Date.now() >= deadline) return { go: false, delayMs: 500 + jitter(1000), reason: 'host_busy' };
          await sleep(50 + jitter(50));
      }
    }
  }

  /** Keeps a slot held by a call still in flight; a killed worker stops renewing and its slot frees itself. */
  async renew(host: string, jobId: string): Promise<void> {
    await this.redis.igRenew(this.slotsKey(host), jobId, this.opts.leaseMs);
  }

  /** Frees the slot and feeds the breaker: S success, F provider_not_responding, N anything else. */
  async release(host: string, jobId: string, outcome: 'S' | 'F' | 'N'): Promise<BreakerChange> {
    const o = this.opts;
    const change = await this.redis.igRelease(this.slotsKey(host), this.breakerKey(host), jobId, outcome, o.window, o.minSamples, o.failRatio, o.cooldownMs);
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
