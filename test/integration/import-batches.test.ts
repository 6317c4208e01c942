/**
 * The importer in small batches against a real Redis: rows are claimed in one
 * batch while the one before is still being written, so a duplicate whose
 * first copy sits in an earlier batch must still be caught, with its line; and
 * rows claimed by an import that died before queueing them are not lost.
 */
import { afterEach, expect, it } from 'vitest';
import { ephemeralKeyRing } from '../../src/crypto/key-ring.js';
import { importCsv } from '../../src/queue/import-csv.js';
import { jobIdFor } from '../../src/queue/job.js';
import { openRun, resetRun, type RunHandles } from '../../src/run/run-context.js';
import { capturedLogger, REDIS_URL, tempDir, uniqueQueue, writeCsv } from '../helpers/pipeline.js';

const handles: RunHandles[] = [];
afterEach(async () => {
  for (const h of handles.splice(0)) {
    await resetRun(h);
    await h.close();
  }
});

it('catches duplicates across batches, queues each email once, and counts every row', async () => {
  const h = await openRun(REDIS_URL, uniqueQueue('batches'), capturedLogger().log);
  handles.push(h);
  // Data rows start at line 2; 20 distinct mailboxes, then copies of lines 2 and 9 and a bad row,
  // spread so that each copy lands several batches (of 3) after its first appearance.
  const rows = Array.from({ length: 20 }, (_, i) => [`u${i}@batch.test`, `pw${i}`, 'imap.batch.test', '993']);
  rows.splice(12, 0, ['U0@batch.test', 'pw0', 'imap.batch.test', '993']); // line 14, copy of line 2
  rows.splice(17, 0, ['not-an-email', 'pw', 'imap.batch.test', '993']); // line 19
  rows.push(['u7@batch.test', 'pw7', 'imap.batch.test', '993']); // line 24, copy of line 9
  const csv = await writeCsv(await tempDir(), [['email', 'imap_password', 'imap_host', 'imap_port'], ...rows]);
  const ring = ephemeralKeyRing();
  const importOnce = () => importCsv({ path: csv, queue: h.queue, ledger: h.ledger, ring, defaults: {}, log: capturedLogger().log, batchSize: 3, highWater: 0 });

  const first = await importOnce();
  expect(first).toMatchObject({ rows: 23, accepted: 20, rejected: 3, alreadyQueued: 0 });
  expect(await h.queue.count()).toBe(20);
  const rejected: Array<[number, string]> = [];
  for await (const r of h.ledger.rejected()) rejected.push([r.line, r.reason]);
  rejected.sort((a, b) => a[0] - b[0]);
  expect(rejected).toEqual([
    [14, 'email: duplicate of line 2'],
    [19, 'email: expected an email address, got "not-an-email"'],
    [24, 'email: duplicate of line 9'],
  ]);
  expect(await h.ledger.counts()).toMatchObject({ rows: 23, accepted: 20, rejected: 3, alreadyQueued: 0 });

  // The same file again queues nothing: every valid row is already queued by the first import.
  const second = await importOnce();
  expect(second).toMatchObject({ rows: 23, accepted: 0 });
  expect(second.alreadyQueued + second.rejected).toBe(23);
  expect(await h.queue.count()).toBe(20);
});

it('queues the rows a dead import claimed but never queued, once its lease is gone, and never a live import\'s', async () => {
  const h = await openRun(REDIS_URL, uniqueQueue('takeover'), capturedLogger().log);
  handles.push(h);
  const rows = Array.from({ length: 10 }, (_, i) => [`t${i}@batch.test`, `pw${i}`, 'imap.batch.test', '993']);
  const csv = await writeCsv(await tempDir(), [['email', 'imap_password', 'imap_host', 'imap_port'], ...rows]);
  const importOnce = () => importCsv({ path: csv, queue: h.queue, ledger: h.ledger, ring: ephemeralKeyRing(), defaults: {}, log: capturedLogger().log, batchSize: 4, highWater: 0 });
  // Another import claimed lines 2-5 and stopped there, as one killed between claim and write would.
  await h.ledger.claimRows('deadbeef', rows.slice(0, 4).map((r, i) => ({ jobId: jobIdFor(r[0]!), line: i + 2 })));

  // Its lease is still running: it may be about to queue them, so they are left to it.
  const whileAlive = await importOnce();
  expect(whileAlive).toMatchObject({ accepted: 6, alreadyQueued: 4, rejected: 0 });
  expect(await h.queue.count()).toBe(6);

  // Its lease is gone (it lapses on its own two minutes after the last batch; released here):
  // the four rows have no job and no outcome, so a re-import queues them, and only them.
  await h.ledger.releaseImport('deadbeef');
  const after = await importOnce();
  expect(after).toMatchObject({ accepted: 4, alreadyQueued: 6, rejected: 0 });
  expect(await h.queue.count()).toBe(10);
  // And a third import finds every row queued.
  expect(await importOnce()).toMatchObject({ accepted: 0, alreadyQueued: 10 });
});
