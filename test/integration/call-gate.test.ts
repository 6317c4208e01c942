/**
 * The call gate through real Redis: the pace shared by every worker, the 429
 * pause that holds jobs already fetched, the per-host concurrency cap, and
 * the circuit breaker that holds a down host's jobs without spending
 * attempts while other hosts keep flowing.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { ephemeralKeyRing } from '../../src/crypto/key-ring.js';
import { startDemoMailServers, type RunningMailServers } from '../../src/demo/mail-servers.js';
import { CALL_GATE_DEFAULTS, CallGate } from '../../src/queue/call-gate.js';
import { PREFIX } from '../../src/queue/job.js';
import { runPipeline } from '../../src/run/run-pipeline.js';
import type { RunningSandbox } from '../../src/sandbox/server.js';
import { closedPort } from '../helpers/net.js';
import { capturedLogger, randomPassword, readReport, REDIS_URL, runCli, tempDir, uniqueQueue, writeCsv } from '../helpers/pipeline.js';
import { sandboxWithClient, TEST_API_KEY } from '../helpers/sandbox.js';

let redis: Redis;
beforeAll(() => {
  redis = new Redis(REDIS_URL);
});
afterAll(() => redis?.disconnect());

/** Host tests: a pace fast enough not to matter. */
const FAST = { ...CALL_GATE_DEFAULTS, rate: 1000 };

describe('CallGate: pace and 429 pause', () => {
  it('spaces calls 1000/rate ms apart, across gates on separate connections', async () => {
    const queue = uniqueQueue('pace');
    const other = new Redis(REDIS_URL);
    try {
      const gates = [new CallGate(redis, queue, { ...CALL_GATE_DEFAULTS, rate: 20 }), new CallGate(other, queue, { ...CALL_GATE_DEFAULTS, rate: 20 })];
      const t0 = performance.now();
      const at = await Promise.all(Array.from({ length: 10 }, (_, i) => gates[i % 2]!.admit('imap.pace.test', `j${i}`).then((a) => ({ a, t: performance.now() - t0 }))));
      expect(at.every((x) => x.a.go)).toBe(true);
      const times = at.map((x) => x.t).sort((x, y) => x - y);
      const gaps = times.slice(1).map((t, i) => t - times[i]!);
      // 50 ms apart by reservation; a reply that arrives late can shorten one gap a little.
      expect(Math.min(...gaps)).toBeGreaterThan(35);
      expect(times.at(-1)! - times[0]!).toBeGreaterThan(400);
    } finally {
      other.disconnect();
    }
  });

  it('delays a job instead of holding a worker slot when the pace queue is longer than the max wait', async () => {
    const gate = new CallGate(redis, uniqueQueue('pace'), { ...CALL_GATE_DEFAULTS, rate: 10, maxPaceWaitMs: 250 });
    // Five at once: reserved 0, 100 and 200 ms from now; the other two would wait 300 and 400 ms.
    const all = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((id) => gate.admit(undefined, id)));
    expect(all.filter((a) => a.go)).toHaveLength(3);
    const delayed = all.filter((a) => !a.go);
    expect(delayed).toEqual([expect.objectContaining({ reason: 'paced' }), expect.objectContaining({ reason: 'paced' })]);
  });

  it('holds calls of jobs already fetched while a 429 pause runs', async () => {
    const queueName = uniqueQueue('pause');
    const queue = new Queue(queueName, { connection: redis, prefix: PREFIX });
    try {
      const gate = new CallGate(redis, queueName, FAST);
      await queue.rateLimit(400);
      const t0 = performance.now();
      expect(await gate.admit('imap.pause.test', 'short-wait', 100)).toMatchObject({ go: false, reason: 'rate_limited' });
      expect(await gate.admit('imap.pause.test', 'waits', 2_000)).toEqual({ go: true, probe: false });
      expect(performance.now() - t0).toBeGreaterThan(300);
    } finally {
      await queue.close();
    }
  });
});

describe('CallGate: hosts', () => {
  it('caps logins per host across callers, and frees a slot on release', async () => {
    const gate = new CallGate(redis, uniqueQueue('gate'), { ...FAST, perHost: 2 });
    expect(await gate.admit('imap.a.test', 'j1', 0)).toEqual({ go: true, probe: false });
    expect(await gate.admit('imap.a.test', 'j2', 0)).toEqual({ go: true, probe: false });
    expect(await gate.admit('imap.a.test', 'j3', 100)).toMatchObject({ go: false, reason: 'host_busy' });
    expect(await gate.admit('IMAP.B.test', 'j3', 0)).toEqual({ go: true, probe: false }); // other hosts flow
    const waiting = gate.admit('imap.a.test', 'j3', 2_000);
    await gate.release('imap.a.test', 'j1', 'S');
    expect(await waiting).toEqual({ go: true, probe: false });
  });

  it('reclaims the slot of a worker that died holding it', async () => {
    const gate = new CallGate(redis, uniqueQueue('gate'), { ...FAST, perHost: 1, leaseMs: 200 });
    expect((await gate.admit('h.test', 'dead', 0)).go).toBe(true);
    expect((await gate.admit('h.test', 'next', 0)).go).toBe(false);
    await new Promise((r) => setTimeout(r, 250));
    expect((await gate.admit('h.test', 'next', 0)).go).toBe(true);
  });

  it('opens on mostly-failing results, probes one job per cool-down, closes on success', async () => {
    const gate = new CallGate(redis, uniqueQueue('gate'), { ...FAST, minSamples: 5, window: 10, failRatio: 0.8, cooldownMs: 300 });
    const results = ['S', 'F', 'F', 'F'] as const;
    for (const r of results) expect(await gate.release('down.test', 'x', r)).toBeUndefined();
    expect(await gate.release('down.test', 'x', 'F')).toBe('opened'); // 4 of 5 failed
    expect(await gate.admit('down.test', 'a', 0)).toMatchObject({ go: false, reason: 'breaker_open' });
    expect(await gate.admit('up.test', 'a', 0)).toEqual({ go: true, probe: false });
    expect(await gate.openBreakers()).toEqual([{ host: 'down.test', since: expect.any(Number) }]);

    await new Promise((r) => setTimeout(r, 350));
    expect(await gate.admit('down.test', 'probe-1', 0)).toEqual({ go: true, probe: true });
    expect(await gate.admit('down.test', 'b', 0)).toMatchObject({ go: false, reason: 'breaker_open' }); // one probe at a time
    expect(await gate.release('down.test', 'probe-1', 'F')).toBe('still_open');
    expect(await gate.admit('down.test', 'c', 0)).toMatchObject({ go: false, reason: 'breaker_open' });

    await new Promise((r) => setTimeout(r, 350));
    expect(await gate.admit('down.test', 'probe-2', 0)).toEqual({ go: true, probe: true });
    expect(await gate.release('down.test', 'probe-2', 'S')).toBe('closed');
    expect(await gate.admit('down.test', 'd', 0)).toEqual({ go: true, probe: false });
    expect(await gate.openBreakers()).toEqual([]);
  });

  it('lets a host\'s jobs through again after the outage limit', async () => {
    const gate = new CallGate(redis, uniqueQueue('gate'), { ...FAST, minSamples: 2, window: 2, cooldownMs: 60_000, maxOpenMs: 200 });
    await gate.release('gone.test', 'x', 'F');
    expect(await gate.release('gone.test', 'x', 'F')).toBe('opened');
    expect((await gate.admit('gone.test', 'a', 0)).go).toBe(false);
    await new Promise((r) => setTimeout(r, 250));
    expect(await gate.admit('gone.test', 'a', 0)).toEqual({ go: true, probe: false });
  });
});

describe('a run with one host down', () => {
  let mail: RunningMailServers;
  let sandbox: RunningSandbox;
  beforeAll(async () => {
    mail = await startDemoMailServers({ mailboxes: Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`ok${i}@up.test`, `pw${i}`])) });
    ({ sandbox } = await sandboxWithClient({ rate: 10_000, providerTimeoutMs: 500 }));
  });
  afterAll(async () => {
    await sandbox?.close();
    await mail?.close();
  });

  it('holds the down host\'s jobs without burning their attempts while the others are granted', async () => {
    const dir = await tempDir();
    const dead = await closedPort();
    // "localhost" and "127.0.0.1" are two hosts to the gate: one down, one up.
    const rows = [
      ['email', 'imap_password', 'imap_host', 'imap_port'],
      ...Array.from({ length: 40 }, (_, i) => [`down${i}@down.test`, randomPassword(), 'localhost', String(dead)]),
      ...Array.from({ length: 10 }, (_, i) => [`ok${i}@up.test`, `pw${i}`, '127.0.0.1', String(mail.imapPort)]),
    ];
    const csv = await writeCsv(dir, rows);
    const captured = capturedLogger();
    const downCalls = () => Object.entries(sandbox.stats.authCallsByEmail).filter(([e]) => e.endsWith('@down.test')).reduce((a, [, n]) => a + n, 0);
    const running = runPipeline({
      csvPath: csv,
      outDir: join(dir, 'out'),
      queueName: uniqueQueue('outage'),
      redisUrl: REDIS_URL,
      apiKey: TEST_API_KEY,
      apiUri: sandbox.url,
      worker: { concurrency: 6, perHostConcurrency: 3, breakerCooldownMs: 300, hostOutageLimitMs: 2_500, rate: 500, maxAttempts: 4, backoffMs: 20, credentialTtlMs: 3_600_000, apiTimeoutS: 5 },
      defaults: {},
      ring: ephemeralKeyRing(),
      log: captured.log,
    });
    // Mid-outage (before the 2.5 s limit): the good host's rows are done, and the down host got
    // only the calls that opened its breaker, those in flight, and one probe per cool-down.
    await new Promise((r) => setTimeout(r, 2_000));
    expect(sandbox.stats.customAuth.created).toBe(10);
    const midOutage = downCalls();
    expect(midOutage).toBeGreaterThanOrEqual(10);
    expect(midOutage).toBeLessThan(30); // without the breaker: 160 calls (40 rows × 4 attempts) in well under a second
    const summary = await running;
    expect(summary).toMatchObject({ granted: 10, dead_lettered: 40 });
    expect(summary.breakers_opened).toBeGreaterThanOrEqual(1);
    const logs = captured.text();
    expect(logs).toContain('host:breaker-opened');
    expect(logs).toContain('host:breaker-probe');
    // After the outage limit the rows were tried and dead-lettered; every call was one attempt.
    const dead_ = await readReport(join(dir, 'out', 'dead-letter.csv'));
    expect(dead_.every((d) => d.error_type === 'provider_not_responding')).toBe(true);
    expect(downCalls()).toBe(dead_.reduce((a, d) => a + Number(d.attempts), 0));
    const grants = await readReport(join(dir, 'out', 'grants.csv'));
    expect(grants).toHaveLength(10);
  });
});

describe('two worker processes sharing one rate', () => {
  let mail: RunningMailServers;
  let sandbox: RunningSandbox;
  const rows = 60;
  beforeAll(async () => {
    mail = await startDemoMailServers({ mailboxes: Object.fromEntries(Array.from({ length: rows }, (_, i) => [`r${i}@pace.test`, `pw${i}`])) });
    // The sandbox answers 429 past 20 calls in any sliding second, as Nylas does past its limit.
    ({ sandbox } = await sandboxWithClient({ rate: 20 }));
  });
  afterAll(async () => {
    await sandbox?.close();
    await mail?.close();
  });

  it('stays under the API limit together: no 429, no sliding second over it', async () => {
    const dir = await tempDir();
    const csv = await writeCsv(dir, [['email', 'imap_password', 'imap_host', 'imap_port'], ...Array.from({ length: rows }, (_, i) => [`r${i}@pace.test`, `pw${i}`, '127.0.0.1', String(mail.imapPort)])]);
    const queue = uniqueQueue('two-workers');
    const env = { NYLAS_API_KEY: TEST_API_KEY, NYLAS_API_URI: sandbox.url, REDIS_URL, IMAP_GRANTS_KEY: randomBytes(32).toString('base64'), LOG_LEVEL: 'warn' };
    expect((await runCli(['import', csv, '--queue', queue], env)).code).toBe(0);
    const work = () => runCli(['work', '--queue', queue, '--until-drained', '--concurrency', '20', '--rate', '15'], env);
    const results = await Promise.all([work(), work()]);
    expect(results.map((r) => r.code)).toEqual([0, 0]);
    expect(sandbox.stats.customAuth.created).toBe(rows);
    expect(sandbox.stats.rateLimited).toBe(0);
    expect(sandbox.stats.peakPerSecond).toBeLessThanOrEqual(20);
  });
});
