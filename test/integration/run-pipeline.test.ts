/**
 * The whole pipeline against real parts: Redis, the sandbox over HTTP through
 * the official SDK, and a real IMAP/SMTP server. Every test has its own queue.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { parseFaultMix } from '../../src/core/fault-mix.js';
import { ephemeralKeyRing } from '../../src/crypto/key-ring.js';
import { startDemoMailServers, type RunningMailServers } from '../../src/demo/mail-servers.js';
import { createNylasClient } from '../../src/nylas/sdk.js';
import { runPipeline, type RunPipelineOptions } from '../../src/run/run-pipeline.js';
import type { RunningSandbox } from '../../src/sandbox/server.js';
import { closedPort } from '../helpers/net.js';
import { capturedLogger, randomPassword, readReport, REDIS_URL, tempDir, uniqueQueue, writeCsv } from '../helpers/pipeline.js';
import { dumpRedis, leaks } from '../helpers/redis-scan.js';
import { sandboxWithClient, TEST_API_KEY } from '../helpers/sandbox.js';

const HEADER = ['email', 'imap_username', 'imap_password', 'imap_host', 'imap_port'];
const N = 64;
// Unique random passwords, so a leak of any of them anywhere is detectable.
const mailboxes: Record<string, string> = Object.fromEntries(Array.from({ length: N }, (_, i) => [`user${i}@pipe.test`, randomPassword()]));
const emails = Object.keys(mailboxes);

let mail: RunningMailServers;
let sandbox: RunningSandbox;
let redis: Redis;

const row = (email: string, password = mailboxes[email]!, port = mail.imapPort, username = '') => [email, username, password, '127.0.0.1', String(port)];

async function run(csvRows: string[][], over: Partial<RunPipelineOptions> = {}, sb: RunningSandbox = sandbox) {
  const dir = await tempDir();
  const csvPath = await writeCsv(dir, [HEADER, ...csvRows]);
  const captured = capturedLogger();
  const queueName = over.queueName ?? uniqueQueue();
  const summary = await runPipeline({
    csvPath,
    outDir: join(dir, 'out'),
    queueName,
    redisUrl: REDIS_URL,
    apiKey: TEST_API_KEY,
    apiUri: sb.url,
    worker: { concurrency: 8, perHostConcurrency: 10, rate: 200, maxAttempts: 3, backoffMs: 20, credentialTtlMs: 3_600_000, apiTimeoutS: 2 },
    defaults: {},
    ring: ephemeralKeyRing(),
    log: captured.log,
    ...over,
  });
  const out = join(dir, 'out');
  return {
    summary,
    queueName,
    logs: captured.text,
    grants: await readReport(join(out, 'grants.csv')),
    dead: await readReport(join(out, 'dead-letter.csv')),
    rejected: await readReport(join(out, 'rejected.csv')),
    out,
  };
}

beforeAll(async () => {
  mail = await startDemoMailServers({ mailboxes });
  ({ sandbox } = await sandboxWithClient({ rate: 10_000, providerTimeoutMs: 1_500 }));
  redis = new Redis(REDIS_URL);
});
afterAll(async () => {
  redis?.disconnect();
  await sandbox?.close();
  await mail?.close();
});

describe('run', () => {
  it('ends every row in exactly one state, with no password in reports, logs or Redis', async () => {
    const dead = await closedPort();
    const rows = [
      row(emails[0]!),
      row(emails[1]!),
      row(emails[2]!, 'definitely-wrong'),
      row(emails[3]!, mailboxes[emails[3]!], dead),
      ['not-an-email', '', randomPassword(), '127.0.0.1', '143'],
      row(emails[0]!.toUpperCase(), mailboxes[emails[0]!]),
      [emails[4]!, 'plainname', mailboxes[emails[4]!]!, '', ''],
      row(emails[5]!, mailboxes[emails[5]!], 70000),
    ];
    const r = await run(rows);

    expect(r.summary).toMatchObject({ rows: 8, accepted: 5, granted: 2, dead_lettered: 3, rejected: 3, expired: 0 });
    expect(r.grants.map((g) => g.email).sort()).toEqual([emails[0], emails[1]].sort());
    for (const g of r.grants) {
      expect(g.grant_id).toMatch(/^[0-9a-f-]{36}$/);
      expect(g.grant_status).toBe('valid');
    }
    const byEmail = Object.fromEntries(r.dead.map((d) => [d.email, d]));
    expect(byEmail[emails[2]!]).toMatchObject({ line: '4', error_type: 'invalid_authentication', http_status: '400', attempts: '1' });
    expect(byEmail[emails[3]!]).toMatchObject({ line: '5', error_type: 'provider_not_responding', http_status: '504', attempts: '3' });
    expect(byEmail[emails[3]!]!.message).toContain('connection refused');
    expect(byEmail[emails[4]!]).toMatchObject({ error_type: 'request_rejected', http_status: '400', attempts: '1' });
    expect(byEmail[emails[2]!]!.request_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(byEmail[emails[2]!]!.password_fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(r.rejected.sort((a, b) => Number(a.line) - Number(b.line))).toEqual([
      { line: '6', email: 'not-an-email', reason: 'email: expected an email address, got "not-an-email"' },
      { line: '7', email: emails[0]!.toUpperCase(), reason: 'email: duplicate of line 2' },
      { line: '9', email: emails[5], reason: 'imap_port: expected an integer from 1 to 65535, got a value of 5 characters (not shown)' },
    ]);

    // Every row in exactly one report.
    const lines = [...r.grants, ...r.dead, ...r.rejected].map((x) => Number(x.line)).sort((a, b) => a - b);
    expect(lines).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);

    for (const f of ['grants.csv', 'dead-letter.csv', 'rejected.csv', 'summary.json']) {
      expect((await stat(join(r.out, f))).mode & 0o777).toBe(0o600);
    }

    const secrets = [...Object.values(mailboxes), 'definitely-wrong', TEST_API_KEY];
    const { readFile } = await import('node:fs/promises');
    const reportText = (await Promise.all(['grants.csv', 'dead-letter.csv', 'rejected.csv', 'summary.json'].map((f) => readFile(join(r.out, f), 'utf8')))).join('\n');
    expect(leaks(reportText, secrets)).toEqual([]);
    expect(leaks(r.logs(), secrets)).toEqual([]);
    const dump = await dumpRedis(redis, `imap-grants:${r.queueName}:*`);
    expect(dump.keys).toBeGreaterThan(0);
    expect(leaks(dump.text, secrets)).toEqual([]);
  });

  it('re-running the same CSV re-authenticates the same grants', async () => {
    const rows = [row(emails[6]!), row(emails[7]!)];
    const queueName = uniqueQueue();
    const first = await run(rows, { queueName });
    const second = await run(rows, { queueName });
    const ids = (g: Record<string, string>[]) => Object.fromEntries(g.map((x) => [x.email, x.grant_id]));
    expect(ids(second.grants)).toEqual(ids(first.grants));
    expect(first.grants.every((g) => g.grant_action === 'created')).toBe(true);
    expect(second.grants.every((g) => g.grant_action === 'reauthenticated')).toBe(true);
    expect(second.summary).toMatchObject({ granted: 2, reauthenticated: 2 });
  });

  it('dead-letters a locked mailbox as auth_limit_reached without retrying it', async () => {
    const email = emails[8]!;
    const nylas = createNylasClient({ apiKey: TEST_API_KEY, apiUri: sandbox.url });
    for (let i = 0; i < 3; i++) {
      await nylas.auth
        .customAuthentication({ requestBody: { provider: 'imap', settings: { imap_username: email, imap_password: `bad${i}`, imap_host: '127.0.0.1', imap_port: mail.imapPort } } as never })
        .catch(() => undefined);
    }
    const r = await run([row(email)]);
    expect(r.dead).toHaveLength(1);
    expect(r.dead[0]).toMatchObject({ error_type: 'auth_limit_reached', attempts: '1' });
  });

  it('rides out a fault storm: 5xx, gateway pages, resets and hangs are retried, 429s cost no attempt', async () => {
    const faults = parseFaultMix('504:0.15,429ra:0.1,429:0.05,502html:0.05,reset:0.05,500:0.05,hang:0.02');
    if (!faults.ok) throw new Error(faults.error);
    const { sandbox: stormy } = await sandboxWithClient({ rate: 10_000, faults: faults.value, seed: 11 });
    try {
      const rows = emails.slice(22, 62).map((e) => row(e));
      const r = await run(rows, { worker: { concurrency: 6, perHostConcurrency: 10, rate: 200, maxAttempts: 12, backoffMs: 10, credentialTtlMs: 3_600_000, apiTimeoutS: 1 } }, stormy);
      expect(r.summary).toMatchObject({ accepted: 40, granted: 40, dead_lettered: 0 });
      const s = stormy.stats;
      for (const kind of ['504', '429ra', '502html', 'reset']) expect(s.faults[kind as never] ?? 0).toBeGreaterThan(0);
      const spent = r.grants.reduce((a, g) => a + Number(g.attempts), 0);
      const notRateLimited = Object.entries(s.faults)
        .filter(([k]) => !k.startsWith('429'))
        .reduce((a, [, v]) => a + (v ?? 0), 0);
      // Each attempt is one successful call or one non-429 failure: 429s spent nothing.
      expect(spent).toBe(s.customAuth.calls + notRateLimited);
      expect(r.logs()).toContain('queue:rate-limited');
    } finally {
      await stormy.close();
    }
  });

  it('reports credentials that waited past the TTL as expired, and never sends them', async () => {
    const before = sandbox.stats.customAuth.calls;
    const r = await run([row(emails[21]!)], { worker: { concurrency: 1, perHostConcurrency: 10, rate: 100, maxAttempts: 3, backoffMs: 10, credentialTtlMs: -1, apiTimeoutS: 2 } });
    expect(r.summary).toMatchObject({ expired: 1, granted: 0 });
    expect(r.dead[0]).toMatchObject({ error_type: 'expired', email: emails[21] });
    expect(sandbox.stats.customAuth.calls).toBe(before);
  });

  it('holds no password in Redis while the run is in progress, including retried rows', async () => {
    const faults = parseFaultMix('504:0.3');
    if (!faults.ok) throw new Error(faults.error);
    const { sandbox: slow } = await sandboxWithClient({ rate: 10_000, latencyMs: 150, faults: faults.value, seed: 5 });
    try {
      const queueName = uniqueQueue('scan');
      const picked = emails.slice(62, 64);
      const rows = [...picked.map((e) => row(e)), row(emails[0]!, 'wrong-during-scan'), ['bad-row', '', 'rejected-secret', '', '']];
      const running = run(rows, { queueName, worker: { concurrency: 1, perHostConcurrency: 10, rate: 2, maxAttempts: 6, backoffMs: 50, credentialTtlMs: 3_600_000, apiTimeoutS: 2 } }, slow);
      const secrets = [...picked.map((e) => mailboxes[e]!), 'wrong-during-scan', 'rejected-secret', TEST_API_KEY];
      // Scanned from start to end (at 2 calls/s the run takes a few seconds): a fixed window could
      // open after the last job has finished.
      let done = false;
      running.then(() => (done = true), () => (done = true));
      let scans = 0;
      const deadline = Date.now() + 30_000;
      while (!done && Date.now() < deadline) {
        const dump = await dumpRedis(redis, `imap-grants:${queueName}:*`);
        // Credentials were in Redis, sealed. Matched in the hash's JSON (quotes escaped): the DUMP
        // copy may be LZF-compressed, which breaks up the literal.
        if (dump.text.includes('\\"sealed\\"')) scans++;
        expect(leaks(dump.text, secrets)).toEqual([]);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(scans).toBeGreaterThan(0);
      const r = await running;
      expect(r.summary).toMatchObject({ granted: 2, dead_lettered: 1, rejected: 1 });
      // The seeded mix made some calls fail with 504 and be retried while the scans ran.
      expect(slow.stats.faults['504'] ?? 0).toBeGreaterThan(0);
      expect(leaks((await dumpRedis(redis, `imap-grants:${queueName}:*`)).text, secrets)).toEqual([]);
      expect(leaks(r.logs(), secrets)).toEqual([]);
    } finally {
      await slow.close();
    }
  });
});
