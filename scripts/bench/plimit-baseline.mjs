// B2 baseline: the script a team would otherwise write. p-limit at the same concurrency,
// the official SDK, one custom auth per row, no queue, no ledger, no retries.
//   node scripts/bench/plimit-baseline.mjs <rows> <concurrency>   (NYLAS_API_URI, NYLAS_API_KEY, BENCH_IMAP_PORT)
import pLimit from 'p-limit';
import { createNylasClient } from '../../dist/nylas/sdk.js';
import { passwordOf } from './lib.mjs';

const [rows, concurrency] = process.argv.slice(2).map(Number);
const nylas = createNylasClient({ apiKey: process.env.NYLAS_API_KEY, apiUri: process.env.NYLAS_API_URI });
const limit = pLimit(concurrency);
let ok = 0;
const started = Date.now();
await Promise.all(
  Array.from({ length: rows }, (_, i) =>
    limit(() =>
      nylas.auth
        .customAuthentication({ requestBody: { provider: 'imap', settings: { imap_username: `user${i}@bench.test`, imap_password: passwordOf(i), imap_host: '127.0.0.1', imap_port: Number(process.env.BENCH_IMAP_PORT) } } })
        .then(() => ok++),
    ),
  ),
);
console.log(JSON.stringify({ ok, seconds: (Date.now() - started) / 1000 }));
