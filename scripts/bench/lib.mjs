// Helpers shared by the benchmarks: data, child processes with peak RSS, Redis clean-up.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { Redis } from 'ioredis';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const node = process.execPath;

/** Writes a CSV of `rows` mailboxes (user<i>@bench.test / pw<i>) without holding it in memory. */
export async function writeCsv(path, rows, host = '127.0.0.1', port = 143) {
  const out = createWriteStream(path, { mode: 0o600 });
  out.write('email,imap_password,imap_host,imap_port\n');
  for (let i = 0; i < rows; i++) {
    if (!out.write(`user${i}@bench.test,pw${i}-${(i * 2654435761) % 1e9},${host},${port}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'close');
}

export const passwordOf = (i) => `pw${i}-${(i * 2654435761) % 1e9}`;

/**
 * Runs a command under GNU time; resolves with wall seconds, peak RSS (MB) and output.
 * `onStart` gets the child, for benchmarks that watch it.
 */
export function timed(args, env = {}, onStart) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn('/usr/bin/time', ['-f', '__RSS_KB=%M cpu=%U+%S', node, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    onStart?.(child);
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const rss = Number(err.match(/__RSS_KB=(\d+)/)?.[1] ?? 0) / 1024;
      resolve({ code, seconds, rssMb: Math.round(rss), out, err: err.replace(/__RSS_KB=\d+\n?/, '') });
    });
  });
}

export async function dropQueue(queue) {
  const redis = new Redis(REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `imap-grants:${queue}:*`, 'COUNT', 5000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
  redis.disconnect();
}

export const newKey = () => randomBytes(32).toString('base64');
export const qname = (tag) => `bench-${tag}-${randomBytes(3).toString('hex')}`;
