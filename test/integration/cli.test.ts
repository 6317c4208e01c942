/**
 * The CLI as a user runs it: a child process, real Redis, the sandbox over
 * HTTP. Exit codes and messages are what cron and people see.
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startDemoMailServers, type RunningMailServers } from '../../src/demo/mail-servers.js';
import { jobIdFor } from '../../src/queue/job.js';
import type { RunningSandbox } from '../../src/sandbox/server.js';
import { randomPassword, readReport, REDIS_URL, runCli, tempDir, uniqueQueue, writeCsv } from '../helpers/pipeline.js';
import { dumpRedis, leaks } from '../helpers/redis-scan.js';
import { sandboxWithClient, TEST_API_KEY } from '../helpers/sandbox.js';

const mailboxes: Record<string, string> = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`cli${i}@cli.test`, randomPassword()]));
const emails = Object.keys(mailboxes);
const HEADER = ['EmailAddress', 'UserName', 'Password', 'imap_host', 'imap_port'];
let mail: RunningMailServers;
let sandbox: RunningSandbox;
let redis: Redis;
let dir: string;

const row = (email: string, password = mailboxes[email]!) => [email, '', password, '127.0.0.1', String(mail.imapPort)];
const env = (extra: Record<string, string> = {}) => ({ NYLAS_API_KEY: TEST_API_KEY, NYLAS_API_URI: sandbox.url, REDIS_URL, IMAP_GRANTS_BACKOFF_MS: '20', ...extra });
const newKey = () => randomBytes(32).toString('base64');

beforeAll(async () => {
  mail = await startDemoMailServers({ mailboxes });
  ({ sandbox } = await sandboxWithClient({ rate: 10_000 }));
  redis = new Redis(REDIS_URL);
  dir = await tempDir();
});
afterAll(async () => {
  redis?.disconnect();
  await sandbox?.close();
  await mail?.close();
});

describe('imap-grants run exit codes', () => {
  it('0 when every row is granted, from an Exchange-format CSV', async () => {
    const csv = await writeCsv(dir, [HEADER, row(emails[0]!), row(emails[1]!)], 'ok.csv');
    const r = await runCli(['run', csv, '--out', join(dir, 'ok'), '--queue', uniqueQueue()], env());
    expect(r.stderr).not.toContain('unexpected');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Granted:\s+2 \(2 new, 0 re-authenticated\)/);
    expect(r.stderr).toContain('temporary key');
    const text = r.stdout + r.stderr + (await readFile(csv, 'utf8'));
    // The scan finds the passwords in the input file, so it would find them in the output too.
    expect(leaks(await readFile(csv, 'utf8'), Object.values(mailboxes)).length).toBe(2);
    expect(leaks(r.stdout + r.stderr, [...Object.values(mailboxes), TEST_API_KEY])).toEqual([]);
    expect(text.length).toBeGreaterThan(0);
  });

  it('2 when rows are dead-lettered or rejected', async () => {
    const csv = await writeCsv(dir, [HEADER, row(emails[2]!), row(emails[3]!, 'wrong'), ['bad', '', 'x', '', '']], 'mixed.csv');
    const r = await runCli(['run', csv, '--out', join(dir, 'mixed'), '--queue', uniqueQueue()], env());
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/Dead-lettered:\s+1 \(invalid_authentication 1\)/);
    expect(r.stdout).toMatch(/Rejected rows:\s+1/);
  });

  it('1 when the API key is refused, within a few requests and with no row dead-lettered', async () => {
    const csv = await writeCsv(dir, [HEADER, ...emails.slice(4, 10).map((e) => row(e))], 'key.csv');
    const before = sandbox.stats.requests;
    const r = await runCli(['run', csv, '--out', join(dir, 'key'), '--queue', uniqueQueue()], env({ NYLAS_API_KEY: 'nyk_wrong_key_9999' }));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/refused the API key \(401 token\.unauthorized_access/);
    expect(r.stderr).not.toContain('nyk_wrong_key_9999');
    expect(sandbox.stats.requests - before).toBeLessThanOrEqual(3);
  });

  it('shows the API key only as its last 4 characters in --help', async () => {
    const r = await runCli(['run', '--help'], env());
    expect(r.code).toBe(0);
    expect(r.stdout.replace(/\s+/g, ' ')).toContain(`NYLAS_API_KEY = ****${TEST_API_KEY.slice(-4)}`);
    expect(r.stdout).not.toContain(TEST_API_KEY);
  });

  it('1 with a message naming the setting for bad config', async () => {
    const r = await runCli(['run', 'x.csv', '--out', join(dir, 'cfg'), '--rate', 'fast', '--api-uri', 'https://api.us.nylas.com/'], env());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--rate (IMAP_GRANTS_RATE): expected an integer from 1 to 10000, got "fast"');
    expect(r.stderr).toContain('--api-uri (NYLAS_API_URI): expected an http(s) URL without a trailing slash');
  });

  it('1 when Redis is unreachable, naming the URL without its password', async () => {
    const r = await runCli(['run', 'x.csv', '--out', join(dir, 'r')], env({ REDIS_URL: 'redis://:hunter2@127.0.0.1:1' }));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Redis at redis://:****@127.0.0.1:1');
    expect(r.stderr).not.toContain('hunter2');
  });
});

describe('unreadable CSVs fail before anything is enqueued', () => {
  const cases: Array<{ name: string; content: Buffer | string; message: RegExp }> = [
    { name: 'empty file', content: '', message: /the file is empty/ },
    { name: 'binary file', content: Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0x00, 0x08, 0x00]), message: /line 1, column 1 holds a NUL byte; a CSV of mailboxes never does/ },
    { name: 'UTF-16 file', content: Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('email,password\n', 'utf16le')]), message: /UTF-16; save it as UTF-8/ },
    { name: 'no header', content: 'a@b.com,secret,imap.b.com\n', message: /no header row; line 1 looks like data/ },
    { name: 'semicolons', content: 'email;imap_password\na@b.com;x\n', message: /seems to use ";" as delimiter/ },
    { name: 'required column missing', content: 'email,imap_host\na@b.com,h\n', message: /required column missing: imap_password/ },
  ];
  it.each(cases)('$name', async ({ content, message }) => {
    const path = join(dir, `bad-${randomBytes(4).toString('hex')}.csv`);
    await writeFile(path, content, { mode: 0o600 });
    const queue = uniqueQueue();
    const r = await runCli(['run', path, '--out', join(dir, 'bad'), '--queue', queue], env());
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(await redis.exists(`imap-grants:${queue}:wait`, `imap-grants:${queue}:id`)).toBe(0);
  });

  it('warns when the input can be read by others', async () => {
    const csv = await writeCsv(dir, [HEADER, row(emails[10]!)], 'shared.csv');
    const { chmod } = await import('node:fs/promises');
    await chmod(csv, 0o644);
    const r = await runCli(['run', csv, '--out', join(dir, 'shared'), '--queue', uniqueQueue()], env());
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('can be read by group or others');
  });
});

describe('split run: import, work, report', () => {
  it('survives a key rotation, dead-letters a tampered job, and never needs a second import', async () => {
    const queue = uniqueQueue('split');
    const oldKey = newKey();
    const csv = await writeCsv(dir, [HEADER, row(emails[6]!), row(emails[7]!), row(emails[8]!)], 'split.csv');

    const noKey = await runCli(['import', csv, '--queue', queue], env());
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toContain('needs the encryption key shared by every process of the run');

    const imported = await runCli(['import', csv, '--queue', queue], env({ IMAP_GRANTS_KEY: oldKey }));
    expect(imported.code).toBe(0);
    expect(imported.stdout).toContain('3 queued, 0 rejected');
    expect(imported.stdout).toMatch(/with warnings, in \d+\.\d\d s \(\d+ rows\/s\)/);
    const again = await runCli(['import', csv, '--queue', queue], env({ IMAP_GRANTS_KEY: oldKey }));
    expect(again.stdout).toContain('0 queued, 0 rejected, 3 already queued');

    // Someone with write access to Redis changes one job's ciphertext.
    const jobKey = `imap-grants:${queue}:${jobIdFor(emails[8]!)}`;
    const data = JSON.parse((await redis.hget(jobKey, 'data'))!);
    const [v, kid, body] = data.sealed.split('.');
    const raw = Buffer.from(body, 'base64');
    raw[20] = raw[20]! ^ 0xff;
    data.sealed = [v, kid, raw.toString('base64')].join('.');
    await redis.hset(jobKey, 'data', JSON.stringify(data));

    const worked = await runCli(['work', '--queue', queue, '--until-drained'], env({ IMAP_GRANTS_KEY: newKey(), IMAP_GRANTS_PREVIOUS_KEYS: oldKey }));
    expect(worked.code).toBe(0);

    const out = join(dir, 'split-out');
    const report = await runCli(['report', '--queue', queue, '--out', out], env());
    expect(report.code).toBe(2);
    const grants = await readReport(join(out, 'grants.csv'));
    const dead = await readReport(join(out, 'dead-letter.csv'));
    expect(grants.map((g) => g.email).sort()).toEqual([emails[6], emails[7]].sort());
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ email: emails[8], error_type: 'credentials_unreadable' });
    expect(dead[0]!.message).toContain('failed authentication');

    const dump = await dumpRedis(redis, `imap-grants:${queue}:*`);
    expect(leaks(dump.text, Object.values(mailboxes))).toEqual([]);
  });

  it('purges credentials nobody processed within the TTL and reports their rows as expired', async () => {
    const queue = uniqueQueue('ttl');
    const key = newKey();
    const csv = await writeCsv(dir, [HEADER, row(emails[9]!), row(emails[10]!)], 'ttl.csv');
    expect((await runCli(['import', csv, '--queue', queue], env({ IMAP_GRANTS_KEY: key }))).code).toBe(0);
    expect(await redis.llen(`imap-grants:${queue}:wait`)).toBe(2);
    await new Promise((r) => setTimeout(r, 1_200));

    const out = join(dir, 'ttl-out');
    const report = await runCli(['report', '--queue', queue, '--out', out, '--credential-ttl', '1s'], env());
    expect(report.code).toBe(2);
    expect(report.stdout).toMatch(/Expired:\s+2/);
    const dead = await readReport(join(out, 'dead-letter.csv'));
    expect(dead.map((d) => d.error_type)).toEqual(['expired', 'expired']);
    expect(await redis.llen(`imap-grants:${queue}:wait`)).toBe(0);
    const dump = await dumpRedis(redis, `imap-grants:${queue}:*`);
    expect(dump.text).not.toContain('"sealed"');
  });
});
