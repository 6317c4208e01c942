/**
 * The bad-input corpus (test/fixtures/csv, expectations in expected.json):
 * malformed and hostile files. For every file the importer (dry run, real
 * Redis for duplicate detection) either fails with a message that names the
 * line (and column), or accepts the valid rows and rejects the others with a
 * reason naming the field. It never crashes.
 */
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateRow } from '../../src/core/validate-row.js';
import { ephemeralKeyRing } from '../../src/crypto/key-ring.js';
import { readCsvRecords, UnreadableCsvError } from '../../src/csv/read-rows.js';
import { importCsv, type RowPlan } from '../../src/queue/import-csv.js';
import { openRun, type RunHandles } from '../../src/run/run-context.js';
import { capturedLogger, REDIS_URL, runCli, tempDir, uniqueQueue } from '../helpers/pipeline.js';
import { sandboxWithClient, TEST_API_KEY } from '../helpers/sandbox.js';

const DIR = join(process.cwd(), 'test/fixtures/csv');
interface Expectation {
  fatal?: string;
  acceptedBeforeFatal?: number[];
  accepted?: number[];
  rejected?: Array<[number, string]>;
  password?: [number, string];
  warning?: [number, string];
  generate?: 'columns' | 'bigfield';
}
const cases = Object.entries(JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as Record<string, Expectation>);
let h: RunHandles;
let scratch: string;

async function generated(kind: 'columns' | 'bigfield'): Promise<string> {
  const path = join(scratch, `${kind}.csv`);
  if (kind === 'columns') {
    const extra = Array.from({ length: 9_998 }, (_, i) => `x${i}`);
    const row = (e: string) => [e, 'pw', ...extra.map(() => 'v')].join(',');
    await writeFile(path, `${['email', 'imap_password', ...extra].join(',')}\n${row('a@example.com')}\n${row('b@example.com')}\n`);
  } else {
    await writeFile(path, `email,imap_password\na@example.com,pw\nbig@example.com,${'x'.repeat(1024 * 1024)}\nc@example.com,pw\n`);
  }
  return path;
}

beforeAll(async () => {
  h = await openRun(REDIS_URL, uniqueQueue('corpus'), capturedLogger().log);
  scratch = await tempDir();
});
afterAll(async () => {
  await h.ledger.clear();
  await h.close();
});

it('holds at least 25 files', () => {
  expect(cases.length).toBeGreaterThanOrEqual(25);
});

describe.each(cases)('%s', (name, want) => {
  it('fails with a located message, or sorts every row', async () => {
    await h.ledger.clear(); // each file is its own import
    const path = want.generate ? await generated(want.generate) : join(DIR, name);
    const rows: RowPlan[] = [];
    const error = await importCsv({
      path,
      queue: h.queue,
      ledger: h.ledger,
      ring: ephemeralKeyRing(),
      defaults: {},
      log: capturedLogger().log,
      dryRun: true,
      onRow: async (r) => void rows.push(r),
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    if (want.fatal) {
      expect(error).toBeInstanceOf(UnreadableCsvError);
      expect((error as Error).message).toMatch(new RegExp(want.fatal));
      expect((error as Error).message).toMatch(/line \d+/);
      expect(rows.filter((r) => r.action !== 'reject').map((r) => r.line)).toEqual(want.acceptedBeforeFatal ?? []);
      return;
    }
    expect(error).toBeUndefined();
    expect(rows.filter((r) => r.action !== 'reject').map((r) => r.line)).toEqual(want.accepted ?? []);
    const rejected = rows.filter((r) => r.action === 'reject').sort((a, b) => a.line - b.line);
    expect(rejected.map((r) => r.line)).toEqual((want.rejected ?? []).map(([line]) => line));
    for (const [i, [, reason]] of (want.rejected ?? []).entries()) expect(rejected[i]!.reason).toMatch(new RegExp(reason));
  });

  if (want.password || want.warning) {
    it('keeps the password byte-exact', async () => {
      for await (const rec of readCsvRecords(join(DIR, name))) {
        if (rec.kind !== 'fields') continue;
        const v = validateRow(rec.fields, rec.line);
        if (!v.ok) continue;
        if (want.password && rec.line === want.password[0]) expect(v.row.secrets.imapPassword).toBe(want.password[1]);
        if (want.warning && rec.line === want.warning[0]) expect(v.row.warnings.join(' ')).toContain(want.warning[1]);
      }
    });
  }
});

it('neutralises formula cells in the reports a spreadsheet opens', async () => {
  const { sandbox } = await sandboxWithClient({ providerTimeoutMs: 500 });
  try {
    const out = join(scratch, 'formula-out');
    const r = await runCli(['run', join(DIR, 'formula-injection.csv'), '--out', out, '--queue', uniqueQueue(), '--no-progress', '--max-attempts', '1'], {
      REDIS_URL,
      NYLAS_API_KEY: TEST_API_KEY,
      NYLAS_API_URI: sandbox.url,
    });
    expect(r.code).toBe(2);
    const rejected = await readFile(join(out, 'rejected.csv'), 'utf8');
    expect(rejected).toContain(`\n2,'=cmd|' /C calc'!A0,`);
    expect(rejected).toContain(`\n4,'@SUM(1+1)*cmd|' /C calc'!A0,`);
    // No cell of any report starts with a formula character.
    for (const f of ['rejected.csv', 'dead-letter.csv', 'grants.csv']) {
      const text = await readFile(join(out, f), 'utf8');
      for (const cell of text.split(/[,\n]/)) expect(cell.replace(/^"/, '')).not.toMatch(/^[=+@]/);
    }
  } finally {
    await sandbox.close();
  }
});
