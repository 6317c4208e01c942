import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { PREFIX } from './job.js';

export class RunLockedError extends Error {
  override name = 'RunLockedError';
}

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;
const EXTEND = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;

/**
 * One `run` or `reconcile` per queue at a time, across machines. Two cron
 * reconciliations that overlap would otherwise both enqueue the same work.
 * The lock expires on its own if its holder dies; the holder renews it.
 */
export async function acquireRunLock(redis: Redis, queue: string, what: string, ttlMs = 60_000): Promise<{ release(): Promise<void> }> {
  const key = `${PREFIX}:${queue}:lock`;
  const token = `${randomUUID()}|${what}|${hostname()}|pid ${process.pid}|since ${new Date().toISOString()}`;
  const ok = await redis.set(key, token, 'PX', ttlMs, 'NX');
  if (ok !== 'OK') {
    const holder = (await redis.get(key))?.split('|').slice(1).join(', ') ?? 'unknown';
    throw new RunLockedError(`queue "${queue}" is busy with another run (${holder}); nothing was done. Wait for it, or use another --queue`);
  }
  const timer = setInterval(() => void redis.eval(EXTEND, 1, key, token, ttlMs).catch(() => undefined), ttlMs / 3);
  timer.unref();
  return {
    release: async () => {
      clearInterval(timer);
      await redis.eval(RELEASE, 1, key, token);
    },
  };
}
