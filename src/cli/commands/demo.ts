import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { DEMO_MAILBOXES } from '../../demo/demo-mailboxes.js';
import { Command } from 'commander';
import { resolveSettings } from '../../config/settings.js';
import { ephemeralKeyRing } from '../../crypto/key-ring.js';
import type { CommandContext } from '../context.js';
import { addSettings } from '../options.js';
import { exitCodeFor, formatSummary } from '../print-summary.js';
import { EXIT } from '../exit.js';

/** The sample CSV: good rows, a wrong password, an unreachable host, and rows the validator rejects. */
export function demoCsv(imapPort: number, smtpPort: number, deadPort: number): string {
  const pw = DEMO_MAILBOXES;
  const rows = [
    ['email', 'imap_username', 'imap_password', 'imap_host', 'imap_port', 'smtp_host', 'smtp_port'],
    ['alice@demo.test', '', pw['alice@demo.test']!, '127.0.0.1', String(imapPort), '127.0.0.1', String(smtpPort)],
    ['bob@demo.test', 'bob@demo.test', pw['bob@demo.test']!, '127.0.0.1', String(imapPort), '', ''],
    ['carol@demo.test', '', pw['carol@demo.test']!, '127.0.0.1', String(imapPort), '127.0.0.1', String(smtpPort)],
    ['dave@demo.test', '', 'not-daves-password', '127.0.0.1', String(imapPort), '', ''],
    ['erin@demo.test', '', pw['erin@demo.test']!, '127.0.0.1', String(deadPort), '', ''],
    ['not-an-email', '', 'whatever', '127.0.0.1', String(imapPort), '', ''],
    ['frank@demo.test', '', 'x', '127.0.0.1', '99999', '', ''],
    ['ALICE@demo.test', '', pw['alice@demo.test']!, '127.0.0.1', String(imapPort), '', ''],
  ];
  return stringify(rows);
}

export function demoCommand(ctx: CommandContext): Command {
  const cmd = new Command('demo')
    .description('a real run against the built-in sandbox and demo mail servers (needs only Redis)')
    .option('--out <dir>', 'where the sample CSV and the reports go', 'demo-out');
  addSettings(cmd, ['redisUrl', 'logLevel']);
  return cmd.action(async (opts: Record<string, unknown>) => {
      // Loaded when the command runs, so --help and other commands start fast.
      const { startDemoMailServers } = await import('../../demo/mail-servers.js');
      const { createLogger } = await import('../../log.js');
      const { runPipeline } = await import('../../run/run-pipeline.js');
      const { startSandbox } = await import('../../sandbox/server.js');
    const s = resolveSettings(['redisUrl', 'logLevel'], opts, process.env);
    const log = createLogger(s.logLevel);
    const out = resolve(String(opts.out));
    await mkdir(out, { recursive: true, mode: 0o700 });
    const mail = await startDemoMailServers();
    const apiKey = randomBytes(16).toString('hex');
    const sandbox = await startSandbox({ apiKey, port: 0, providerTimeoutMs: 3_000 });
    // A port that was just closed: connections to it are refused, as to a host that is down.
    const probe = await startSandbox({ apiKey, port: 0 });
    const deadPort = probe.port;
    await probe.close();
    try {
      const csvPath = join(out, 'mailboxes.csv');
      await writeFile(csvPath, demoCsv(mail.imapPort, mail.smtpPort, deadPort), { mode: 0o600 });
      ctx.out.write(`Demo: sandbox at ${sandbox.url}, demo IMAP on ${mail.host}:${mail.imapPort}, SMTP on ${mail.host}:${mail.smtpPort}\nDemo: running ${csvPath}\n\n`);
      const summary = await runPipeline({
        csvPath,
        outDir: out,
        queueName: 'imap-grants-demo',
        redisUrl: s.redisUrl,
        apiKey,
        apiUri: sandbox.url,
        worker: { concurrency: 5, perHostConcurrency: 10, rate: 20, maxAttempts: 3, backoffMs: 200, credentialTtlMs: 3_600_000, apiTimeoutS: 10 },
        defaults: { imapPort: 993, smtpPort: 465 },
        ring: ephemeralKeyRing(),
        log,
        reset: true,
        signal: ctx.shutdown,
      });
      ctx.out.write(formatSummary(summary));
      // The demo is meant to show every outcome; only a failed run is an error.
      ctx.setExitCode(exitCodeFor(summary) === EXIT.fatal ? EXIT.fatal : EXIT.ok);
    } finally {
      await sandbox.close();
      await mail.close();
    }
  });
}
