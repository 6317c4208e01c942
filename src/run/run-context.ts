import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../log.js';
import { PREFIX, type GrantJobData } from '../queue/job.js';
import { Ledger } from '../queue/ledger.js';
import { checkEvictionPolicy, connectRedis } from '../queue/redis.js';

/** The Redis-side handles of one run: a connection, its queue and its ledger. */
export interface RunHandles {
  redis: Redis;
  queue: Queue<GrantJobData>;
  ledger: Ledger;
  close(): Promise<void>;
}

export async function openRun(redisUrl: string, queueName: string, log: Logger): Promise<RunHandles> {
  const redis = await connectRedis(redisUrl);
  await checkEvictionPolicy(redis, log);
  const queue = new Queue<GrantJobData>(queueName, { connection: redis, prefix: PREFIX });
  queue.on('error', (err) => log.warn({ err: err.message }, 'queue error'));
  const ledger = new Ledger(redis, queueName);
  return {
    redis,
    queue,
    ledger,
    close: async () => {
      await queue.close();
      redis.disconnect();
    },
  };
}

/** Jobs that still have to reach a final state (BullMQ counts, one call). */
export async function unfinishedJobs(queue: Queue): Promise<number> {
  const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
  return Object.values(c).reduce((a, b) => a + b, 0);
}

/** Forgets a finished run: its jobs (and any credentials in them) and its ledger. */
export async function resetRun(h: RunHandles): Promise<void> {
  await h.queue.obliterate({ force: true });
  await h.ledger.clear();
}
