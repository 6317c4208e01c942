import type { Redis } from 'ioredis';

/** Every form in which a secret could sit in Redis or a file: clear, base64, JSON-escaped. */
export function secretForms(secret: string): string[] {
  return [...new Set([secret, Buffer.from(secret).toString('base64'), JSON.stringify(secret).slice(1, -1)])];
}

/** Which of `secrets` appear anywhere in `text` (the secrets themselves are not returned, only their index). */
export function leaks(text: string, secrets: readonly string[]): number[] {
  return secrets.flatMap((s, i) => (secretForms(s).some((f) => text.includes(f)) ? [i] : []));
}

/**
 * Reads every key under a prefix the ways an intruder would: SCAN, then the
 * type's own read command (HGETALL, XRANGE, …) and DUMP, and returns it all as text.
 */
export async function dumpRedis(redis: Redis, pattern: string): Promise<{ keys: number; text: string }> {
  let cursor = '0';
  const parts: string[] = [];
  let keys = 0;
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    for (const key of batch) {
      keys++;
      parts.push(key);
      const type = await redis.type(key);
      if (type === 'hash') parts.push(JSON.stringify(await redis.hgetall(key)));
      else if (type === 'string') parts.push((await redis.get(key)) ?? '');
      else if (type === 'list') parts.push(JSON.stringify(await redis.lrange(key, 0, -1)));
      else if (type === 'set') parts.push(JSON.stringify(await redis.smembers(key)));
      else if (type === 'zset') parts.push(JSON.stringify(await redis.zrange(key, 0, -1)));
      else if (type === 'stream') parts.push(JSON.stringify(await redis.xrange(key, '-', '+')));
      const dump = await redis.dumpBuffer(key);
      if (dump) parts.push(dump.toString('latin1'), dump.toString('utf8'));
    }
  } while (cursor !== '0');
  return { keys, text: parts.join('\n') };
}
