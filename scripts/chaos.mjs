#!/usr/bin/env node
// Chaos check: a run survives workers being killed while the API misbehaves.
//
// 5,000 rows against the sandbox (--latency 100, faults 504:0.15,429:0.1,502html:0.05,reset:0.05,hang:0.01)
// worked by three `imap-grants work` processes; every 3 s one of them, chosen at random, gets SIGKILL and
// is restarted. At the end it asserts that
//   1. every row is in exactly one of grants, dead-letter and rejected;
//   2. the sandbox holds at most one grant per email;
//   3. no row got an API call after it reached its final state;
//   4. attempts were spent only on real failures: never on 429s, never on interrupted jobs.
//
//   npm run chaos [-- --rows 5000 --kill-every 3]
// Needs Redis and a built dist/. Exits 1 when an assertion fails.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { parseFaultMix } from '../dist/core/fault-mix.js';
import { startDemoMailServers } from '../dist/demo/mail-servers.js';
import { createLogger } from '../dist/log.js';
import { openRun } from '../dist/run/run-context.js';
import { startSandbox } from '../dist/sandbox/server.js';

const { values: a } = parseArgs({
  options: {
    rows: { type: 'string', default: '5000' },
    'kill-every': { type: 'string', default: '3' },
    workers: { type: 'string', default: '3' },
    faults: { type: 'string', default: '504:0.15,429:0.1,502html:0.05,reset:0.05,hang:0.01' },
    timeout: { type: 'string', default: '900' },
  },
});
const rows = Number(a.rows);
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const queue = `chaos-${randomBytes(4).toString('hex')}`;
const t0 = Date.now();
const say = (m) => console.log(`[chaos ${((Date.now() - t0) / 1000).toFixed(1)}s] ${m}`);

// Mailboxes: 2% wrong passwords (dead letters), 1% invalid rows (rejected), the rest good.
const mailboxes = {};
for (let i = 0; i < rows; i++) mailboxes[`c${i}@chaos.test`] = `pw-${randomBytes(6).toString('base64url')}`;
const mail = await startDemoMailServers({ mailboxes });
const faults = parseFaultMix(a.faults);
if (!faults.ok) throw new Error(faults.error);
const apiKey = randomBytes(12).toString('hex');
const sandbox = await startSandbox({ apiKey, port: 0, rate: 50, latencyMs: 100, faults: faults.value, seed: 42 });
const dir = await mkdtemp(join(tmpdir(), 'imap-grants-chaos-'));
const csv = join(dir, 'mailboxes.csv');
await writeFile(
  csv,
  stringify([
    ['email', 'imap_password', 'imap_host', 'imap_port'],
    ...Object.entries(mailboxes).map(([e, p], i) => (i % 100 === 3 ? [`broken-${i}`, p, '127.0.0.1', String(mail.imapPort)] : [e, i % 50 === 7 ? 'wrong' : p, '127.0.0.1', String(mail.imapPort)])),
  ]),
  { mode: 0o600 },
);
const env = { ...process.env, REDIS_URL: redisUrl, NYLAS_API_KEY: apiKey, NYLAS_API_URI: sandbox.url, IMAP_GRANTS_KEY: randomBytes(32).toString('base64'), LOG_LEVEL: 'warn', IMAP_GRANTS_API_TIMEOUT: '3', IMAP_GRANTS_BACKOFF_MS: '200', IMAP_GRANTS_MAX_ATTEMPTS: '8', IMAP_GRANTS_RATE: '40', IMAP_GRANTS_CONCURRENCY: '10' };
const cli = (args) =>
  new Promise((resolve) => {
    const c = spawn(process.execPath, ['dist/cli/main.js', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (out += d));
    c.on('close', (code) => resolve({ code, out }));
  });

const imported = await cli(['import', csv, '--queue', queue]);
say(imported.out.trim());

const workers = [];
const startWorker = (slot) => {
  const c = spawn(process.execPath, ['dist/cli/main.js', 'work', '--queue', queue], { env, stdio: ['ignore', 'ignore', 'ignore'], detached: true });
  workers[slot] = c;
};
for (let i = 0; i < Number(a.workers); i++) startWorker(i);

const h = await openRun(redisUrl, queue, createLogger('silent'));
let kills = 0;
const killer = setInterval(() => {
  const slot = Math.floor(Math.random() * workers.length);
  try {
    process.kill(-workers[slot].pid, 'SIGKILL');
  } catch {
    // already gone
  }
  kills++;
  startWorker(slot);
}, Number(a['kill-every']) * 1000);

let c;
for (;;) {
  c = await h.ledger.counts();
  const finished = c.granted + c.dead_lettered + c.expired;
  if (finished >= c.accepted && c.accepted > 0) break;
  if ((Date.now() - t0) / 1000 > Number(a.timeout)) break;
  await new Promise((r) => setTimeout(r, 2000));
  if (Math.round((Date.now() - t0) / 1000) % 20 < 2) say(`${finished}/${c.accepted} final, ${kills} kills so far`);
}
clearInterval(killer);
say(`all rows final after ${kills} kills; stopping workers`);
for (const w of workers) {
  try {
    process.kill(-w.pid, 'SIGTERM');
  } catch {
    // gone
  }
}
await new Promise((r) => setTimeout(r, 1500));

const out = join(dir, 'reports');
const report = await cli(['report', '--queue', queue, '--out', out]);
const read = async (f) => parse(await readFile(join(out, f), 'utf8'), { columns: true });
const [grants, dead, rejected] = await Promise.all([read('grants.csv'), read('dead-letter.csv'), read('rejected.csv')]);

const failures = [];
// 1. Exactly one report per row.
const seen = new Map();
for (const r of [...grants, ...dead, ...rejected]) seen.set(r.line, (seen.get(r.line) ?? 0) + 1);
const missing = [];
for (let line = 2; line <= rows + 1; line++) if (seen.get(String(line)) !== 1) missing.push(`${line}:${seen.get(String(line)) ?? 0}`);
if (missing.length) failures.push(`rows not in exactly one report: ${missing.slice(0, 10).join(' ')} (${missing.length})`);
// 2. At most one grant per email.
const grantEmails = sandbox.store.list({ limit: 1e9, offset: 0, sortBy: 'created_at', orderBy: 'asc' }).map((g) => g.email);
if (new Set(grantEmails).size !== grantEmails.length) failures.push('the sandbox holds two grants for one email');
const stats = sandbox.stats;
// 3. Nothing after the final state.
const late = [...grants, ...dead].filter((r) => (stats.lastAuthCallAt[r.email.toLowerCase()] ?? 0) > Date.parse(r.finished_at));
if (late.length) failures.push(`rows called after their final state: ${late.slice(0, 5).map((r) => r.email).join(', ')} (${late.length})`);
// 4. Attempts: never more than the non-429 answers the sandbox gave that mailbox. A kill loses an
//    answer (the worker died before reading it) but never adds an attempt.
const over = [...grants, ...dead].filter((r) => Number(r.attempts) > (stats.nonRateLimitedAnswersByEmail[r.email.toLowerCase()] ?? 0));
if (over.length) failures.push(`rows with more attempts than real failures: ${over.slice(0, 5).map((r) => `${r.email}=${r.attempts}`).join(', ')} (${over.length})`);
const attempts = [...grants, ...dead].reduce((s, r) => s + Number(r.attempts), 0);
const answers = Object.values(stats.nonRateLimitedAnswersByEmail).reduce((s, n) => s + n, 0);
const rate429 = (stats.faults['429'] ?? 0) + (stats.faults['429ra'] ?? 0) + stats.rateLimited;

const figures = {
  rows,
  granted: grants.length,
  dead_lettered: dead.length,
  rejected: rejected.length,
  kills,
  seconds: Math.round((Date.now() - t0) / 1000),
  attempts_spent: attempts,
  non_429_answers: answers,
  lost_to_kills: answers - attempts,
  answers_429: rate429,
  faults: stats.faults,
  dead_by_type: dead.reduce((m, r) => ((m[r.error_type] = (m[r.error_type] ?? 0) + 1), m), {}),
};
console.log(report.out.trim());
console.log(JSON.stringify(figures, null, 2));

await h.queue.obliterate({ force: true }).catch(() => undefined);
await h.ledger.clear();
await h.close();
await sandbox.close();
await mail.close();
if (failures.length) {
  console.error(`CHAOS FAILED:\n- ${failures.join('\n- ')}`);
  process.exit(1);
}
say('CHAOS PASSED');
process.exit(0);
