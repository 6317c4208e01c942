#!/usr/bin/env node
// A full-size rehearsal: N generated mailboxes on a local IMAP server, the sandbox in front of it
// (with --latency and --faults), and `imap-grants run` as a child process. Checks that every row
// ends in exactly one report with the expected outcome, and prints the figures.
//
//   node scripts/rehearse.mjs --rows 10000 --latency 200 --concurrency 50 --rate 250
//
// Needs Redis (REDIS_URL, default redis://127.0.0.1:6379) and a built dist/ (npm install).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { startDemoMailServers } from '../dist/demo/mail-servers.js';
import { parseFaultMix } from '../dist/core/fault-mix.js';
import { startSandbox } from '../dist/sandbox/server.js';

const { values: a } = parseArgs({
  options: {
    rows: { type: 'string', default: '10000' },
    latency: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '50' },
    rate: { type: 'string', default: '250' },
    faults: { type: 'string', default: '' },
    'bad-share': { type: 'string', default: '0.02' },
  },
});
const rows = Number(a.rows);
const badShare = Number(a['bad-share']);

const closedPort = async () => {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
};

const mailboxes = {};
const expected = new Map(); // line -> outcome
const csvRows = [['email', 'imap_password', 'imap_host', 'imap_port']];
const deadPort = await closedPort();
for (let i = 0; i < rows; i++) mailboxes[`user${i}@rehearsal.test`] = `pw-${randomBytes(8).toString('base64url')}`;
const mail = await startDemoMailServers({ mailboxes });
for (let i = 0; i < rows; i++) {
  const line = i + 2;
  const email = `user${i}@rehearsal.test`;
  const password = mailboxes[email];
  const roll = (i * 7919) % 1000 / 1000; // deterministic spread of the bad rows
  if (roll < badShare / 4) {
    csvRows.push([`broken-${i}`, password, '127.0.0.1', String(mail.imapPort)]);
    expected.set(line, 'rejected');
  } else if (roll < badShare / 2) {
    csvRows.push([email, password, '127.0.0.1', String(deadPort)]);
    expected.set(line, 'dead:provider_not_responding');
  } else if (roll < badShare) {
    csvRows.push([email, `${password}-wrong`, '127.0.0.1', String(mail.imapPort)]);
    expected.set(line, 'dead:invalid_authentication');
  } else {
    csvRows.push([email, password, '127.0.0.1', String(mail.imapPort)]);
    expected.set(line, 'granted');
  }
}

const faults = parseFaultMix(a.faults);
if (!faults.ok) throw new Error(faults.error);
const apiKey = randomBytes(16).toString('hex');
const sandbox = await startSandbox({ apiKey, port: 0, rate: 100_000, latencyMs: Number(a.latency), faults: faults.value, providerTimeoutMs: 3000 });
const dir = await mkdtemp(join(tmpdir(), 'imap-grants-rehearsal-'));
const csvPath = join(dir, 'mailboxes.csv');
await writeFile(csvPath, stringify(csvRows), { mode: 0o600 });
const out = join(dir, 'out');

const started = Date.now();
const child = spawn(
  process.execPath,
  ['dist/cli/main.js', 'run', csvPath, '--out', out, '--queue', `rehearsal-${randomBytes(4).toString('hex')}`,
    '--concurrency', a.concurrency, '--rate', a.rate, '--max-attempts', '3', '--backoff', '100', '--api-timeout', '10'],
  { env: { ...process.env, NYLAS_API_KEY: apiKey, NYLAS_API_URI: sandbox.url, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] },
);
let stdout = '';
let stderrLines = 0;
child.stdout.on('data', (d) => (stdout += d));
child.stderr.on('data', (d) => (stderrLines += String(d).split('\n').length - 1));
const code = await new Promise((r) => child.on('close', r));
const seconds = (Date.now() - started) / 1000;

const read = async (f) => parse(await readFile(join(out, f), 'utf8'), { columns: true });
const [grants, dead, rejected] = await Promise.all([read('grants.csv'), read('dead-letter.csv'), read('rejected.csv')]);
const seen = new Map();
const mark = (line, outcome) => seen.set(line, [...(seen.get(line) ?? []), outcome]);
for (const g of grants) mark(Number(g.line), 'granted');
for (const d of dead) mark(Number(d.line), `dead:${d.error_type}`);
for (const r of rejected) mark(Number(r.line), 'rejected');
const problems = [];
for (const [line, want] of expected) {
  const got = seen.get(line) ?? [];
  if (got.length !== 1 || got[0] !== want) problems.push(`line ${line}: expected ${want}, got ${got.join(',') || 'nothing'}`);
}
const stats = sandbox.stats;
await sandbox.close();
await mail.close();

console.log(stdout.trim());
console.log(
  JSON.stringify(
    {
      rows,
      exit_code: code,
      seconds: Math.round(seconds * 10) / 10,
      rows_per_second: Math.round((rows / seconds) * 10) / 10,
      granted: grants.length,
      dead_lettered: dead.length,
      rejected: rejected.length,
      rows_in_exactly_one_report: expected.size - problems.length,
      sandbox_grants: stats.customAuth.created + 0,
      sandbox_custom_auth_calls: stats.customAuth.calls,
      sandbox_rate_limited: stats.rateLimited,
      stderr_lines: stderrLines,
    },
    null,
    2,
  ),
);
if (problems.length > 0) {
  console.error(`${problems.length} row(s) not accounted for as expected, e.g.:\n${problems.slice(0, 10).join('\n')}`);
  process.exit(1);
}
