// The benchmarks' API side, in its own process: an IMAP server holding `rows` bench mailboxes
// and the sandbox in front of it. Prints {"url","imapPort","apiKey"} and serves until killed.
//   node scripts/bench/servers.mjs <rows> <latencyMs> <rate>
import { startDemoMailServers } from '../../dist/demo/mail-servers.js';
import { startSandbox } from '../../dist/sandbox/server.js';
import { passwordOf } from './lib.mjs';

const [rows, latencyMs, rate] = process.argv.slice(2).map(Number);
const mailboxes = {};
for (let i = 0; i < rows; i++) mailboxes[`user${i}@bench.test`] = passwordOf(i);
const mail = await startDemoMailServers({ mailboxes });
const apiKey = 'bench-key';
// No connector needed: the baseline script never creates one, and the workers' check is not what is measured.
const sandbox = await startSandbox({ apiKey, port: 0, latencyMs, rate, requireConnector: false });
console.log(JSON.stringify({ url: sandbox.url, imapPort: mail.imapPort, apiKey }));
process.on('SIGTERM', async () => {
  await sandbox.close();
  await mail.close();
  process.exit(0);
});
