/**
 * Graceful shutdown of a worker: on SIGTERM it stops taking jobs, finishes
 * those in flight within --grace-period and exits 0; a second SIGTERM exits at once.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoMailServers, type RunningMailServers } from '../../src/demo/mail-servers.js';
import { openRun } from '../../src/run/run-context.js';
import type { RunningSandbox } from '../../src/sandbox/server.js';
import { capturedLogger, randomPassword, REDIS_URL, runCli, tempDir, uniqueQueue, writeCsv } from '../helpers/pipeline.js';
import { sandboxWithClient, TEST_API_KEY } from '../helpers/sandbox.js';

const mailboxes: Record<string, string> = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`sd${i}@shutdown.test`, randomPassword()]));
let mail: RunningMailServers;
let sandbox: RunningSandbox;

beforeAll(async () => {
  mail = await startDemoMailServers({ mailboxes });
  ({ sandbox } = await sandboxWithClient({ rate: 10_000, latencyMs: 1500 }));
});
afterAll(async () => {
  await sandbox?.close();
  await mail?.close();
});

function startWorker(queue: string, env: Record<string, string>) {
  const child = spawn(process.execPath, ['dist/cli/main.js', 'work', '--queue', queue, '--concurrency', '3', '--rate', '100', '--grace-period', '10'], {
    env: { ...process.env, ...env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  const exited = new Promise<{ code: number | null; at: number }>((r) => child.on('close', (code) => r({ code, at: Date.now() })));
  return { child, exited, stderr: () => stderr };
}

describe('work and SIGTERM', () => {
  it('finishes the jobs in flight, takes no new ones, exits 0; the rest wait for another worker', async () => {
    const dir = await tempDir();
    const queue = uniqueQueue('sigterm');
    const env = { REDIS_URL, NYLAS_API_KEY: TEST_API_KEY, NYLAS_API_URI: sandbox.url, IMAP_GRANTS_KEY: randomBytes(32).toString('base64') };
    const csv = await writeCsv(dir, [['email', 'imap_password', 'imap_host', 'imap_port'], ...Object.entries(mailboxes).map(([e, p]) => [e, p, '127.0.0.1', String(mail.imapPort)])]);
    expect((await runCli(['import', csv, '--queue', queue], env)).code).toBe(0);

    const w = startWorker(queue, env);
    const h = await openRun(REDIS_URL, queue, capturedLogger().log);
    try {
      // Wait until jobs are in flight (each takes 1.5 s at the sandbox).
      for (let i = 0; i < 100 && (await h.queue.getActiveCount()) === 0; i++) await new Promise((r) => setTimeout(r, 50));
      const inFlight = await h.queue.getActiveCount();
      expect(inFlight).toBeGreaterThan(0);
      const signalled = Date.now();
      w.child.kill('SIGTERM');
      const { code, at } = await w.exited;
      expect(code).toBe(0);
      expect(at - signalled).toBeLessThan(10_000);
      expect(w.stderr()).toContain('worker stopped');
      const c = await h.ledger.counts();
      // What was in flight finished; nothing else was started after the signal.
      expect(c.granted).toBeGreaterThanOrEqual(inFlight);
      expect(c.granted).toBeLessThan(12);
      expect(await h.queue.getActiveCount()).toBe(0);
      expect(await h.queue.getWaitingCount()).toBe(12 - c.granted);

      // Another worker finishes the run.
      const done = await runCli(['work', '--queue', queue, '--until-drained'], env, 60_000);
      expect(done.code).toBe(0);
      expect((await h.ledger.counts()).granted).toBe(12);
    } finally {
      await h.queue.obliterate({ force: true });
      await h.ledger.clear();
      await h.close();
    }
  });

  it('exits at once on a second SIGTERM, without waiting for the jobs in flight', async () => {
    const dir = await tempDir();
    const queue = uniqueQueue('sigterm2');
    const env = { REDIS_URL, NYLAS_API_KEY: TEST_API_KEY, NYLAS_API_URI: sandbox.url, IMAP_GRANTS_KEY: randomBytes(32).toString('base64') };
    const csv = await writeCsv(dir, [['email', 'imap_password', 'imap_host', 'imap_port'], ...Object.entries(mailboxes).slice(0, 3).map(([e, p]) => [e, p, '127.0.0.1', String(mail.imapPort)])]);
    expect((await runCli(['import', csv, '--queue', queue], env)).code).toBe(0);
    const w = startWorker(queue, env);
    const h = await openRun(REDIS_URL, queue, capturedLogger().log);
    try {
      for (let i = 0; i < 100 && (await h.queue.getActiveCount()) === 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect(await h.queue.getActiveCount()).toBeGreaterThan(0);
      const signalled = Date.now();
      w.child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 100));
      w.child.kill('SIGTERM');
      const { code, at } = await w.exited;
      expect(code).toBe(1);
      expect(at - signalled).toBeLessThan(1_000); // the jobs in flight needed 1.5 s
      expect(w.stderr()).toContain('second SIGTERM, exiting now');
      expect((await h.ledger.counts()).granted).toBe(0);
    } finally {
      await h.queue.obliterate({ force: true });
      await h.ledger.clear();
      await h.close();
    }
  });
});
