// B1 baseline: the least an importer can do. Stream the CSV, seal each row's credentials
// (the same AES-256-GCM as imap-grants), addBulk in batches of 1,000. No validation,
// no duplicate detection, no ledger, no backpressure.
//   node scripts/bench/raw-addbulk.mjs <csv> <queue>
import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { sealSecrets } from '../../dist/crypto/credential-box.js';
import { loadKeyRing } from '../../dist/crypto/key-ring.js';
import { jobIdFor, sealBinding } from '../../dist/queue/job.js';

const [csv, queueName] = process.argv.slice(2);
const ring = loadKeyRing({ key: process.env.IMAP_GRANTS_KEY });
const connection = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
const queue = new Queue(queueName, { connection, prefix: 'imap-grants' });
let batch = [];
let n = 0;
let line = 1;
for await (const [email, password, host, port] of createReadStream(csv).pipe(parse({ from_line: 2 }))) {
  line++;
  const jobId = jobIdFor(email);
  batch.push({ name: 'grant', data: { v: 1, line, email, imapHost: host, imapPort: Number(port), sealed: sealSecrets(ring, { imapUsername: email, imapPassword: password }, sealBinding(queueName, jobId)) }, opts: { jobId, attempts: 1000, backoff: { type: 'grant' } } });
  if (batch.length === 1000) {
    await queue.addBulk(batch);
    n += batch.length;
    batch = [];
  }
}
if (batch.length) await queue.addBulk(batch);
n += batch.length;
console.log(`added ${n}`);
await queue.close();
connection.disconnect();
