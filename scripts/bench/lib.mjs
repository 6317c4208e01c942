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
 * Runs a command under GNU time; resolves with wall seconds, peak RSS (MB), CPU seconds and output.
 * `onStart` gets the child, for benchmarks that watch it.
 */
export function timed(args, env = {}, onStart) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn('/usr/bin/time', ['-f', '__RSS_KB=%M __CPU_S=%U+%S', node, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    onStart?.(child);
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const rss = Number(err.match(/__RSS_KB=(\d+)/)?.[1] ?? 0) / 1024;
      const cpu = err.match(/__CPU_S=([\d.]+)\+([\d.]+)/);
      resolve({ code, seconds, rssMb: Math.round(rss), cpuS: cpu ? Number(cpu[1]) + Number(cpu[2]) : undefined, out, err: err.replace(/__RSS_KB=.*\n?/, '') });
    });
  });
}

export async function dropQueue(queue) {
  const redis = new Redis(REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `imap-grants:${queue}:*`, 'COUNT', 5000);
    cursor = next;
    // DEL, not UNLINK: freeing 100k jobs in Redis's background thread would eat CPU during the next measurement.
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
  redis.disconnect();
}

/** The most of `times` (Unix ms) in any sliding second, (t - 1000 ms, t], as the sandbox's limiter counts. */
export function peakInAnySecond(times) {
  const t = [...times].sort((a, b) => a - b);
  let peak = 0;
  for (let lo = 0, hi = 0; hi < t.length; hi++) {
    while (t[lo] <= t[hi] - 1000) lo++;
    peak = Math.max(peak, hi - lo + 1);
  }
  return peak;
}

export const newKey = () => randomBytes(32).toString('base64');
export const qname = (tag) => `bench-${tag}-${randomBytes(3).toString('hex')}`;

/**
 * Waits (up to 70 s) until few TCP sockets are in TIME_WAIT. Every sandbox login is a new IMAP
 * connection, and tens of thousands of TIME_WAIT sockets on loopback make each connect() slower,
 * so without this whichever side ran second was measured on a slower machine.
 */
export async function quietSockets(limit = 8000) {
  const { readFile } = await import('node:fs/promises');
  const timeWait = async () => {
    let n = 0;
    for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
      const text = await readFile(f, 'utf8').catch(() => '');
      for (const line of text.split('\n').slice(1)) if (line.trim().split(/\s+/)[3] === '06') n++;
    }
    return n;
  };
  for (let i = 0; i < 70 && (await timeWait()) > limit; i++) await new Promise((r) => setTimeout(r, 1000));
}
