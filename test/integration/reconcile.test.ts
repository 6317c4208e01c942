/**
 * A nightly reconciliation against the sandbox: import, then invalidate some
 * grants and delete others, then reconcile. Only those grants get API calls.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { ephemeralKeyRing } from '../../src/crypto/key-ring.js';
import { startDemoMailServers, type RunningMailServers } from '../../src/demo/mail-servers.js';
import { createNylasClient, type NylasClient } from '../../src/nylas/sdk.js';
import { acquireRunLock, RunLockedError } from '../../src/queue/run-lock.js';
import { reconcile, type ReconcileOptions } from '../../src/run/reconcile.js';
import { runPipeline } from '../../src/run/run-pipeline.js';
import type { RunningSandbox } from '../../src/sandbox/server.js';
import { capturedLogger, randomPassword, readReport, REDIS_URL, tempDir, uniqueQueue, writeCsv } from '../helpers/pipeline.js';
import { sandboxWithClient, TEST_API_KEY } from '../helpers/sandbox.js';

const mailboxes: Record<string, string> = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`night${i}@rec.test`, randomPassword()]));
const emails = Object.keys(mailboxes);
let mail: RunningMailServers;
let sandbox: RunningSandbox;
let nylas: NylasClient;
let redis: Redis;
let csvPath: string;
let dir: string;
const queueName = uniqueQueue('nightly');

const options = (out: string, over: Partial<ReconcileOptions> = {}): ReconcileOptions => ({
  csvPath,
  outDir: join(dir, out),
  queueName,
  redisUrl: REDIS_URL,
  apiKey: TEST_API_KEY,
  apiUri: sandbox.url,
  worker: { concurrency: 4, perHostConcurrency: 10, rate: 100, maxAttempts: 3, backoffMs: 20, credentialTtlMs: 3_600_000, apiTimeoutS: 5 },
  defaults: {},
  ring: ephemeralKeyRing(),
  log: capturedLogger().log,
  dryRun: false,
  deleteOrphans: false,
  ...over,
});

const authCalls = () => ({ ...sandbox.stats.authCallsByEmail });
const delta = (before: Record<string, number>, after: Record<string, number>) =>
  Object.fromEntries(Object.entries(after).filter(([k, v]) => v !== (before[k] ?? 0)).map(([k, v]) => [k, v - (before[k] ?? 0)]));

beforeAll(async () => {
  mail = await startDemoMailServers({ mailboxes });
  ({ sandbox, nylas } = await sandboxWithClient({ rate: 10_000 }));
  redis = new Redis(REDIS_URL);
  dir = await tempDir();
  csvPath = await writeCsv(dir, [['email', 'imap_password', 'imap_host', 'imap_port'], ...emails.map((e) => [e, mailboxes[e]!, '127.0.0.1', String(mail.imapPort)])]);
});
afterAll(async () => {
  redis?.disconnect();
  await sandbox?.close();
  await mail?.close();
});

describe('nightly reconciliation', () => {
  it('touches only the invalid and missing grants, and lists orphans', async () => {
    const first = await runPipeline({ ...options('import'), csvPath });
    expect(first.granted).toBe(6);
    const ids = Object.fromEntries((await readReport(join(dir, 'import', 'grants.csv'))).map((g) => [g.email, g.grant_id]));

    // Overnight: two passwords changed (grants invalid), one grant deleted, one grant nobody asked for.
    for (const e of [emails[1]!, emails[2]!]) sandbox.store.get(ids[e]!)!.grantStatus = 'invalid';
    await nylas.grants.destroy({ grantId: ids[emails[3]!]! });
    const { grant: orphan } = sandbox.store.upsert('stranger@rec.test', { imap_host: 'x' }, {}, Math.floor(Date.now() / 1000));

    let before = authCalls();
    const dry = await reconcile(options('dry', { dryRun: true }));
    expect(delta(before, authCalls())).toEqual({});
    expect(dry.plan).toMatchObject({ create: 1, reauthenticate: 2, skip: 3, reject: 0 });
    const plan = await readReport(dry.planPath);
    expect(Object.fromEntries(plan.map((p) => [p.email, p.action]))).toEqual({
      [emails[0]!]: 'skip',
      [emails[1]!]: 'reauthenticate',
      [emails[2]!]: 'reauthenticate',
      [emails[3]!]: 'create',
      [emails[4]!]: 'skip',
      [emails[5]!]: 'skip',
    });
    expect((await readReport(dry.orphansPath)).map((o) => [o.email, o.action])).toEqual([['stranger@rec.test', 'kept']]);

    before = authCalls();
    const real = await reconcile(options('real'));
    expect(delta(before, authCalls())).toEqual({ [emails[1]!]: 1, [emails[2]!]: 1, [emails[3]!]: 1 });
    expect(real.summary).toMatchObject({ granted: 6, created: 1, reauthenticated: 2, unchanged: 3, dead_lettered: 0 });
    const grants = Object.fromEntries((await readReport(join(dir, 'real', 'grants.csv'))).map((g) => [g.email, g]));
    expect(grants[emails[1]!]).toMatchObject({ grant_id: ids[emails[1]!], grant_action: 'reauthenticated', grant_status: 'valid' });
    expect(grants[emails[0]!]).toMatchObject({ grant_id: ids[emails[0]!], grant_action: 'unchanged', attempts: '0' });
    expect(grants[emails[3]!]!.grant_id).not.toBe(ids[emails[3]!]);
    expect(sandbox.store.get(ids[emails[2]!]!)!.grantStatus).toBe('valid');
    expect(sandbox.store.get(orphan.id)).toBeDefined();

    before = authCalls();
    const again = await reconcile(options('again', { deleteOrphans: true }));
    expect(delta(before, authCalls())).toEqual({});
    expect(again.plan).toMatchObject({ create: 0, reauthenticate: 0, skip: 6 });
    expect(again.orphansDeleted).toBe(1);
    expect(sandbox.store.get(orphan.id)).toBeUndefined();
  });

  it('refuses to overlap with another reconciliation of the same queue', async () => {
    const lock = await acquireRunLock(redis, queueName, 'reconcile');
    try {
      const before = authCalls();
      const requests = sandbox.stats.requests;
      await expect(reconcile(options('overlap'))).rejects.toThrow(RunLockedError);
      expect(sandbox.stats.requests).toBe(requests); // not even the grant list was read
      await expect(reconcile(options('overlap'))).rejects.toThrow(/is busy with another run \(reconcile, /);
      expect(delta(before, authCalls())).toEqual({});
    } finally {
      await lock.release();
    }
  });
});
