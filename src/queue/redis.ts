import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../log.js';

/** The URL with any password replaced, fit for messages and logs. */
export function safeRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '****';
    return u.toString();
  } catch {
    return 'redis://(unparseable URL)';
  }
}

export class RedisUnavailableError extends Error {
  override name = 'RedisUnavailableError';
}

/**
 * A connection for BullMQ and the ledger. Workers need
 * `maxRetriesPerRequest: null` so blocking reads survive a Redis restart;
 * BullMQ insists on it.
 */
export function createRedis(url: string, extra: RedisOptions = {}): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: null, lazyConnect: true, ...extra });
  // Errors surface through commands; without a listener ioredis would print each reconnect attempt.
  redis.on('error', () => {});
  return redis;
}

/** Connects, or fails fast with a message naming the (password-free) URL. */
export async function connectRedis(url: string, timeoutMs = 5_000, extra: RedisOptions = {}): Promise<Redis> {
  const redis = createRedis(url, { connectTimeout: timeoutMs, retryStrategy: () => null, ...extra });
  try {
    await Promise.race([
      redis.connect(),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs).unref()),
    ]);
    await redis.ping();
  } catch (e) {
    redis.disconnect();
    throw new RedisUnavailableError(`Redis at ${safeRedisUrl(url)} is unreachable: ${(e as Error).message}`);
  }
  // From here on, reconnect forever (1–20 s), as BullMQ does for its own connections.
  redis.options.retryStrategy = (times: number) => Math.max(Math.min(Math.exp(times), 20_000), 1_000);
  return redis;
}

/** Warns unless Redis will never evict keys: eviction silently loses jobs. */
export async function checkEvictionPolicy(redis: Redis, log: Logger): Promise<void> {
  try {
    const info = await redis.info('memory');
    const policy = info.match(/maxmemory_policy:(\S+)/)?.[1];
    if (policy && policy !== 'noeviction') {
      log.warn({ policy }, `Redis maxmemory-policy is "${policy}"; it should be "noeviction", or jobs and results can be evicted mid-run`);
    }
  } catch {
    // INFO may be disabled on managed Redis; nothing to check then.
  }
}
