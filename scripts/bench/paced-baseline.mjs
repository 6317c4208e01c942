// B3 baseline: calls sent by a clock at exactly the configured rate, with the official SDK and
// nothing else, so the bench can tell the jitter of the way to the API from our call gate's pacing.
//   node scripts/bench/paced-baseline.mjs <rows> <rate>   (NYLAS_API_URI, NYLAS_API_KEY, BENCH_IMAP_PORT)
// Prints {"ok","peakSentPerSecond"}: the most calls sent in any sliding second.
import { createNylasClient } from '../../dist/nylas/sdk.js';
import { passwordOf, peakInAnySecond } from './lib.mjs';

const [rows, rate] = process.argv.slice(2).map(Number);
const nylas = createNylasClient({ apiKey: process.env.NYLAS_API_KEY, apiUri: process.env.NYLAS_API_URI });
const sent = [];
const calls = [];
const t0 = performance.now();
for (let i = 0; i < rows; i++) {
  // Each call's moment is fixed from the start, so a late timer does not push the later ones back.
  const due = t0 + (i * 1000) / rate;
  const left = due - performance.now();
  if (left > 0) await new Promise((r) => setTimeout(r, left));
  sent.push(Date.now());
  calls.push(
    nylas.auth.customAuthentication({
      requestBody: { provider: 'imap', settings: { imap_username: `user${i}@bench.test`, imap_password: passwordOf(i), imap_host: '127.0.0.1', imap_port: Number(process.env.BENCH_IMAP_PORT) } },
    }),
  );
}
const ok = (await Promise.allSettled(calls)).filter((r) => r.status === 'fulfilled').length;
console.log(JSON.stringify({ ok, peakSentPerSecond: peakInAnySecond(sent) }));
