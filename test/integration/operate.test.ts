/**
 * Operating a run: live progress (terminal and plain), status, the dashboard
 * (Bull Board behind basic auth, /metrics, /healthz) and the compose file.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { parseFaultMix } from '../../src/core/fault-mix.js';
import { ephemeralKeyRing } from '../../src/crypto/key-ring.js';
import { startDashboard } from '../../src/dashboard/server.js';
import { startDemoMailServers, type RunningMailServers } from '../../src/demo/mail-servers.js';
import { openRun } from '../../src/run/run-context.js';
import { runPipeline } from '../../src/run/run-pipeline.js';
import { openControlQueue } from '../../src/schedule/control-queue.js';
import type { RunningSandbox } from '../../src/sandbox/server.js';
import { capturedLogger, randomPassword, REDIS_URL, runCli, tempDir, uniqueQueue, writeCsv } from '../helpers/pipeline.js';
import { sandboxWithClient, TEST_API_KEY } from '../helpers/sandbox.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(process.cwd(), 'test-artifacts');
const mailboxes: Record<string, string> = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`op${i}@ops.test`, randomPassword()]));
const emails = Object.keys(mailboxes);
let mail: RunningMailServers;
let sandbox: RunningSandbox;
let dir: string;

const csvOf = (list: string[], extra: string[][] = []) =>
  writeCsv(dir, [['email', 'imap_password', 'imap_host', 'imap_port'], ...list.map((e) => [e, mailboxes[e]!, '127.0.0.1', String(mail.imapPort)]), ...extra], `${randomPassword()}.csv`);

beforeAll(async () => {
  mail = await startDemoMailServers({ mailboxes });
  const faults = parseFaultMix('504:0.2,429ra:0.1');
  if (!faults.ok) throw new Error(faults.error);
  ({ sandbox } = await sandboxWithClient({ rate: 10_000, latencyMs: 50, faults: faults.value, seed: 4 }));
  dir = await tempDir();
});
afterAll(async () => {
  await sandbox?.close();
  await mail?.close();
});

describe('status and metrics agree with the run', () => {
  it('reports counts, retries, 429s and latency from Redis; /queues needs a password', async () => {
    const queueName = uniqueQueue('ops');
    const csv = await csvOf(emails.slice(0, 10), [[emails[10]!, 'wrong', '127.0.0.1', String(mail.imapPort)], ['bad', 'x', '', '']]);
    const summary = await runPipeline({
      csvPath: csv,
      outDir: join(dir, 'ops'),
      queueName,
      redisUrl: REDIS_URL,
      apiKey: TEST_API_KEY,
      apiUri: sandbox.url,
      worker: { concurrency: 4, perHostConcurrency: 10, rate: 200, maxAttempts: 10, backoffMs: 20, credentialTtlMs: 3_600_000, apiTimeoutS: 5 },
      defaults: {},
      ring: ephemeralKeyRing(),
      log: capturedLogger().log,
    });
    expect(summary).toMatchObject({ granted: 10, dead_lettered: 1, rejected: 1 });

    const status = JSON.parse((await runCli(['status', '--queue', queueName, '--json'], { REDIS_URL })).stdout);
    expect(status).toMatchObject({ granted: 10, dead_lettered: 1, rejected: 1, finished: 11, accepted: 11, import_done: true, top_errors: [{ error_type: 'invalid_authentication', rows: 1 }] });
    const s = sandbox.stats;
    // Every call the sandbox answered was timed; 429s and 504s are counted as such.
    expect(status.api_calls).toBe(s.customAuth.calls + (s.faults['504'] ?? 0) + (s.faults['429ra'] ?? 0));
    expect(status.retries).toBe(s.faults['504'] ?? 0);
    expect(status.rate_limited).toBe(s.faults['429ra'] ?? 0);
    expect(status.rate_limited).toBeGreaterThan(0);

    const h = await openRun(REDIS_URL, queueName, capturedLogger().log);
    const control = openControlQueue(h.redis, queueName);
    const board = await startDashboard({ host: '127.0.0.1', port: 0, redis: h.redis, queue: h.queue, controlQueue: control, ledger: h.ledger, auth: { user: 'ops', password: 's3cret' }, readOnly: true, log: capturedLogger().log });
    try {
      const metrics = await (await fetch(`${board.url}/metrics`)).text();
      const q = `queue="${queueName}"`;
      expect(metrics).toContain(`imap_grants_rows{${q},outcome="granted"} 10`);
      expect(metrics).toContain(`imap_grants_rows{${q},outcome="rejected"} 1`);
      expect(metrics).toContain(`imap_grants_dead_letters{${q},error_type="invalid_authentication"} 1`);
      expect(metrics).toContain(`imap_grants_rate_limited{${q}} ${status.rate_limited}`);
      expect(metrics).toContain(`imap_grants_retries{${q}} ${status.retries}`);
      expect(metrics).toContain(`imap_grants_api_latency_seconds_count{${q}} ${status.api_calls}`);
      expect(metrics).toContain(`imap_grants_api_latency_seconds_bucket{${q},le="+Inf"} ${status.api_calls}`);

      expect((await fetch(`${board.url}/queues`)).status).toBe(401);
      expect((await fetch(`${board.url}/queues`, { headers: { authorization: `Basic ${Buffer.from('ops:wrong').toString('base64')}` } })).status).toBe(401);
      expect((await fetch(`${board.url}/queues`, { headers: { authorization: `Basic ${Buffer.from('ops:s3cret').toString('base64')}` } })).status).toBe(200);
      expect(await (await fetch(`${board.url}/healthz`)).json()).toEqual({ status: 'ok', redis: 'ok' });

      if (existsSync(CHROMIUM)) {
        const { chromium } = await import('playwright-core');
        const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
        try {
          const refused = await (await browser.newContext()).newPage();
          // Without credentials the browser is refused (headless Chromium cannot prompt).
          await expect(refused.goto(`${board.url}/queues`)).rejects.toThrow(/ERR_INVALID_AUTH_CREDENTIALS/);
          const page = await (await browser.newContext({ httpCredentials: { username: 'ops', password: 's3cret' }, viewport: { width: 1280, height: 800 } })).newPage();
          await page.goto(`${board.url}/queues/queue/${queueName}?status=failed`);
          await page.getByText(queueName).first().waitFor();
          await mkdir(ARTIFACTS, { recursive: true });
          await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png') });
        } finally {
          await browser.close();
        }
      }
    } finally {
      await board.close();
      await control.close();
      await h.close();
    }
  });

  it('the dashboard refuses to start without credentials, except --no-auth on loopback', async () => {
    const none = await runCli(['dashboard', '--port', '0'], { REDIS_URL, IMAP_GRANTS_DASHBOARD_USER: '', IMAP_GRANTS_DASHBOARD_PASSWORD: '' });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('set IMAP_GRANTS_DASHBOARD_USER and IMAP_GRANTS_DASHBOARD_PASSWORD');
    const open = await runCli(['dashboard', '--no-auth', '--host', '0.0.0.0'], { REDIS_URL });
    expect(open.code).toBe(1);
    expect(open.stderr).toContain('only allowed on a loopback address');
  });
});

describe('progress', () => {
  const env = () => ({ REDIS_URL, NYLAS_API_KEY: TEST_API_KEY, NYLAS_API_URI: sandbox.url, IMAP_GRANTS_BACKOFF_MS: '20', IMAP_GRANTS_RATE: '20' });

  it('outside a terminal prints plain progress lines, without control characters', async () => {
    const csv = await csvOf(emails.slice(11, 19));
    const r = await runCli(['run', csv, '--out', join(dir, 'plain'), '--queue', uniqueQueue(), '--progress-interval', '0.2'], { ...env(), LOG_LEVEL: 'warn' });
    expect(r.code).toBe(0);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('progress: '));
    expect(lines.length).toBeGreaterThan(1);
    expect(lines.at(-1)).toMatch(/^progress: 8 rows read, 8 queued, 8 granted, 0 dead-lettered, 0 rejected, 0 retrying, [\d.]+\/s/);
    // eslint-disable-next-line no-control-regex
    expect(r.stderr).not.toMatch(/\x1b\[/);
  });

  it.skipIf(spawnSync('sh', ['-c', 'command -v tmux']).status !== 0)('in a terminal draws live bars (captured with tmux)', async () => {
    const csv = await csvOf(emails.slice(19, 30));
    const session = `ig-${randomPassword().slice(3, 11).replace(/[^A-Za-z0-9]/g, 'x')}`;
    const envs = Object.entries({ ...env(), IMAP_GRANTS_RATE: '4' }).map(([k, v]) => `${k}=${v}`).join(' ');
    const cmd = `cd ${process.cwd()} && env ${envs} node dist/cli/main.js run ${csv} --out ${join(dir, 'tty')} --queue ${uniqueQueue()}; echo EXIT=$?; sleep 30`;
    execFileSync('tmux', ['new-session', '-d', '-s', session, '-x', '160', '-y', '24', cmd]);
    const screens: string[] = [];
    try {
      for (let i = 0; i < 100; i++) {
        await new Promise((r) => setTimeout(r, 200));
        const screen = execFileSync('tmux', ['capture-pane', '-p', '-t', session]).toString();
        screens.push(screen);
        if (screen.includes('EXIT=')) break;
      }
    } finally {
      spawnSync('tmux', ['kill-session', '-t', session]);
    }
    const last = screens.at(-1)!;
    expect(last).toContain('EXIT=0');
    expect(last).toMatch(/Granted:\s+11/);
    // While it ran, a bar showed rows finishing with rate and counts.
    const live = screens.find((s) => /grants .*\d+\/11 .*granted .*retrying .*\/s/.test(s) && !s.includes('EXIT='));
    expect(live).toBeDefined();
    await mkdir(ARTIFACTS, { recursive: true });
    await import('node:fs/promises').then((fs) => fs.writeFile(join(ARTIFACTS, 'progress-tty.txt'), live!));
  });
});

describe('docker-compose.yml', () => {
  it('has Redis with AOF and noeviction, a scalable worker, the dashboard and a rehearsal profile', async () => {
    const compose = parseYaml(await readFile('docker-compose.yml', 'utf8'));
    const s = compose.services;
    expect(s.redis.command.join(' ')).toMatch(/--appendonly yes/);
    expect(s.redis.command.join(' ')).toMatch(/--maxmemory-policy noeviction/);
    // Scalable with --scale worker=N: no fixed name, no host port.
    expect(s.worker.container_name).toBeUndefined();
    expect(s.worker.ports).toBeUndefined();
    expect(s.worker.command[0]).toBe('work');
    expect(s.worker.env_file).toBe('.env');
    expect(s.dashboard.command[0]).toBe('dashboard');
    expect(s.sandbox.profiles).toEqual(['rehearsal']);
    expect(s.sandbox.command).toContain('--demo-mail');
    for (const name of ['worker', 'dashboard', 'cli']) expect(s[name].environment.REDIS_URL).toBe('redis://redis:6379');
    // Secrets come from an env file that is never committed.
    expect(await readFile('.gitignore', 'utf8')).toMatch(/^\.env$/m);
    const example = await readFile('.env.example', 'utf8');
    for (const key of ['NYLAS_API_KEY', 'IMAP_GRANTS_KEY', 'IMAP_GRANTS_DASHBOARD_USER', 'IMAP_GRANTS_DASHBOARD_PASSWORD']) expect(example).toMatch(new RegExp(`^${key}=`, 'm'));
  });

  it.skipIf(spawnSync('sh', ['-c', 'command -v docker-compose']).status !== 0)('is accepted by docker-compose config', async () => {
    const d = await tempDir();
    await import('node:fs/promises').then(async (fs) => {
      await fs.copyFile('docker-compose.yml', join(d, 'docker-compose.yml'));
      await fs.copyFile('.env.example', join(d, '.env'));
    });
    const r = spawnSync('docker-compose', ['config', '--quiet'], { cwd: d, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
