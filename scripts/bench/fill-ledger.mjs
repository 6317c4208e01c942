// B6 set-up: the ledger of a finished run of <rows> mailboxes, written through the real Ledger
// (one recordOutcome per row, as workers write it): 98 % granted, 2 % dead-lettered, and 0.5 %
// rejected rows. Nothing is kept in this process beyond one window of calls.
//   node scripts/bench/fill-ledger.mjs <queue> <rows>
import { Redis } from 'ioredis';
import { Ledger } from '../../dist/queue/ledger.js';
import { jobIdFor } from '../../dist/queue/job.js';

const [queue, rowsArg] = process.argv.slice(2);
const rows = Number(rowsArg);
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { enableAutoPipelining: true });
const ledger = new Ledger(redis, queue);
await ledger.setMeta({ startedAt: Date.now() - 3_600_000, importDone: 1 });
const finished = new Date().toISOString();
const WINDOW = 5_000;
let rejected = [];
let rejectedCount = 0;
for (let start = 0; start < rows; start += WINDOW) {
  const calls = [];
  for (let i = start; i < Math.min(rows, start + WINDOW); i++) {
    const email = `user${i}@bench.test`;
    const line = i + 2;
    if (i % 200 === 7) {
      rejected.push({ line, email, reason: 'imap_port: expected an integer from 1 to 65535, got a value of 5 characters (not shown)' });
      continue;
    }
    const base = { line, email, imap_host: '127.0.0.1', attempts: 1, request_id: `req-${i}`, finished_at: finished };
    calls.push(
      ledger.recordOutcome(
        jobIdFor(email),
        i % 50 === 3
          ? { ...base, outcome: 'dead_lettered', error_type: 'invalid_authentication', http_status: 400, message: 'Authentication failed: AUTHENTICATIONFAILED.', password_fingerprint: '0123456789abcdef' }
          : { ...base, outcome: 'granted', grant_id: `grant-${i.toString(36).padStart(8, '0')}`, grant_status: 'valid', grant_action: 'created' },
      ),
    );
  }
  await Promise.all(calls);
  await ledger.recordBatch(rejected, { rows: 0, accepted: 0, alreadyQueued: 0 });
  rejectedCount += rejected.length;
  rejected = [];
}
const accepted = rows - rejectedCount;
await ledger.recordBatch([], { rows, accepted, alreadyQueued: 0 });
console.log(JSON.stringify({ rows, accepted }));
redis.disconnect();
