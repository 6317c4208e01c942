#!/usr/bin/env node
// Follows a large rehearsal live and saves what an operator sees: the terminal progress (run in
// tmux) and the dashboard, mid-run, to docs/img/. Needs Redis, tmux and Debian's chromium.
//
//   node scripts/capture-screens.mjs --rows 50000 --after 25
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'csv-stringify/sync';
import { chromium } from 'playwright-core';
import { startDashboard } from '../dist/dashboard/server.js';
import { startDemoMailServers } from '../dist/demo/mail-servers.js';
import { createLogger } from '../dist/log.js';
import { openRun } from '../dist/run/run-context.js';
import { formatStatus, readRunStatus } from '../dist/run/run-status.js';
import { startSandbox } from '../dist/sandbox/server.js';
import { openControlQueue } from '../dist/schedule/control-queue.js';

const { values: a } = parseArgs({ options: { rows: { type: 'string', default: '50000' }, after: { type: 'string', default: '25' }, out: { type: 'string', default: 'docs/img' } } });
const rows = Number(a.rows);
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const queue = `rehearsal-${randomBytes(3).toString('hex')}`;
const log = createLogger('silent');

const mailboxes = {};
for (let i = 0; i < rows; i++) mailboxes[`user${i}@rehearsal.test`] = `pw-${randomBytes(6).toString('base64url')}`;
const mail = await startDemoMailServers({ mailboxes });
const apiKey = randomBytes(12).toString('hex');
const sandbox = await startSandbox({ apiKey, port: 0, rate: 100_000, latencyMs: 100 });
const dir = await mkdtemp(join(tmpdir(), 'imap-grants-screens-'));
const csv = join(dir, 'mailboxes.csv');
const emails = Object.keys(mailboxes);
await writeFile(
  csv,
  stringify([
    ['email', 'imap_password', 'imap_host', 'imap_port'],
    // One row in five hundred has a wrong password, so dead letters show up too.
    ...emails.map((e, i) => [e, i % 500 === 7 ? 'wrong' : mailboxes[e], '127.0.0.1', String(mail.imapPort)]),
  ]),
  { mode: 0o600 },
);

const session = `screens-${randomBytes(3).toString('hex')}`;
const env = `REDIS_URL=${redisUrl} NYLAS_API_KEY=${apiKey} NYLAS_API_URI=${sandbox.url}`;
execFileSync('tmux', ['new-session', '-d', '-s', session, '-x', '118', '-y', '14',
  `cd ${resolve('.')} && env ${env} node dist/cli/main.js run ${csv} --out ${join(dir, 'out')} --queue ${queue} --concurrency 50 --rate 200; sleep 600`]);

const h = await openRun(redisUrl, queue, log);
const control = openControlQueue(h.redis, queue);
const board = await startDashboard({ host: '127.0.0.1', port: 0, redis: h.redis, queue: h.queue, controlQueue: control, ledger: h.ledger, auth: { user: 'ops', password: 'screens' }, readOnly: true, log });

await new Promise((r) => setTimeout(r, Number(a.after) * 1000));
const screen = execFileSync('tmux', ['capture-pane', '-p', '-t', session]).toString().replace(/\s+$/, '');
const status = await readRunStatus(h.queue, h.ledger);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
try {
  const esc = (s) => s.replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]);
  const term = await browser.newPage({ viewport: { width: 1000, height: 420 } });
  await term.setContent(`<body style="margin:0;background:#1e1e1e"><pre style="margin:0;padding:16px;color:#d4d4d4;font:14px/1.4 'DejaVu Sans Mono',monospace">$ imap-grants run mailboxes.csv --out out/ --concurrency 50 --rate 200\n${esc(screen)}\n\n$ imap-grants status --queue ${queue}\n${esc(formatStatus(status))}</pre></body>`);
  await term.screenshot({ path: join(a.out, 'progress-terminal.png'), fullPage: true });
  const page = await (await browser.newContext({ httpCredentials: { username: 'ops', password: 'screens' }, viewport: { width: 1280, height: 720 } })).newPage();
  await page.goto(`${board.url}/queues/queue/${queue}?status=waiting`);
  await page.getByText(queue).first().waitFor();
  await new Promise((r) => setTimeout(r, 1500));
  await page.screenshot({ path: join(a.out, 'dashboard.png') });
  console.log(screen);
  console.log(formatStatus(status));
} finally {
  await browser.close();
  spawnSync('tmux', ['kill-session', '-t', session]);
  await board.close();
  await control.close();
  await new Promise((r) => setTimeout(r, 1000));
  await h.queue.obliterate({ force: true }).catch(() => undefined);
  await h.ledger.clear();
  await h.close();
  await sandbox.close();
  await mail.close();
}
