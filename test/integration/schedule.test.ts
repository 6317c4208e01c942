/**
 * `schedule` registers one job scheduler per queue; a `work` process runs the
 * reconciliation when it fires, and exits 0 on SIGTERM.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoMailServers, type RunningMailServers } from '../../src/demo/mail-servers.js';
import type { RunningSandbox } from '../../src/sandbox/server.js';
import { randomPassword, readReport, REDIS_URL, runCli, tempDir, uniqueQueue, writeCsv } from '../helpers/pipeline.js';
import { sandboxWithClient, TEST_API_KEY } from '../helpers/sandbox.js';

const mailboxes: Record<string, string> = Object.fromEntries(Array.from({ length: 3 }, (_, i) => [`cron${i}@sched.test`, randomPassword()]));
let mail: RunningMailServers;
let sandbox: RunningSandbox;

beforeAll(async () => {
  mail = await startDemoMailServers({ mailboxes });
  ({ sandbox } = await sandboxWithClient({ rate: 10_000 }));
});
afterAll(async () => {
  await sandbox?.close();
  await mail?.close();
});

describe('schedule', () => {
  it('registers once, fires in a worker, lists and removes', async () => {
    const dir = await tempDir();
    const queue = uniqueQueue('sched');
    const csv = await writeCsv(dir, [['email', 'imap_password', 'imap_host', 'imap_port'], ...Object.entries(mailboxes).map(([e, p]) => [e, p, '127.0.0.1', String(mail.imapPort)])]);
    const out = join(dir, 'nightly');
    const env = { REDIS_URL, NYLAS_API_KEY: TEST_API_KEY, NYLAS_API_URI: sandbox.url, IMAP_GRANTS_KEY: randomBytes(32).toString('base64') };

    expect((await runCli(['schedule', '--cron', '0 2 * * *', csv, '--out', out, '--queue', queue], env)).code).toBe(0);
    const again = await runCli(['schedule', '--cron', '*/2 * * * * *', csv, '--out', out, '--queue', queue], env);
    expect(again.stdout).toContain('"*/2 * * * * *" UTC');
    const listed = await runCli(['schedule', '--list', '--queue', queue], env);
    expect(listed.stdout.trim().split('\n')).toHaveLength(1);
    expect(listed.stdout).toContain(`reconcile-${queue}  "*/2 * * * * *"`);

    const bad = await runCli(['schedule', '--cron', 'not a cron', csv, '--out', out, '--queue', `${queue}-bad`], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--cron "not a cron"');

    const worker = spawn(process.execPath, ['dist/cli/main.js', 'work', '--queue', queue, '--grace-period', '5'], { env: { ...process.env, ...env, LOG_LEVEL: 'info' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    worker.stderr.on('data', (d: Buffer) => (stderr += d));
    const exited = new Promise<number | null>((r) => worker.on('close', r));
    let runs: string[] = [];
    for (let i = 0; i < 100 && runs.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 200));
      runs = await readdir(out).catch(() => [] as string[]);
      if (!stderr.includes('schedule:done')) runs = [];
    }
    expect(stderr).toContain('scheduled reconciliation finished');
    worker.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toContain('worker stopped');

    const firstRun = join(out, (await readdir(out)).sort()[0]!);
    const grants = await readReport(join(firstRun, 'grants.csv'));
    expect(grants.map((g) => g.email).sort()).toEqual(Object.keys(mailboxes).sort());

    expect((await runCli(['schedule', '--remove', '--queue', queue], env)).stdout).toContain('Removed the schedule');
    expect((await runCli(['schedule', '--list', '--queue', queue], env)).stdout).toContain('No schedule');
  });
});
