/**
 * `imap-grants check` against real and scripted servers: every result class,
 * one login per mailbox, and the per-host cap.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoMailServers, DEMO_MAILBOXES, type RunningMailServers } from '../../src/demo/mail-servers.js';
import { preflightCheck } from '../../src/run/preflight-check.js';
import { hasDovecot, startDovecot, type RunningDovecot } from '../helpers/dovecot.js';
import { closedPort, scriptedImapServer, silentServer } from '../helpers/net.js';
import { capturedLogger, readReport, runCli, tempDir, writeCsv } from '../helpers/pipeline.js';

let mail: RunningMailServers;
let dovecot: RunningDovecot | undefined;
let dir: string;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  mail = await startDemoMailServers();
  if (hasDovecot()) dovecot = await startDovecot({ 'dana@example.test': 'dana-secret' });
  dir = await tempDir();
});
afterAll(async () => {
  for (const c of cleanups) await c();
  await dovecot?.close();
  await mail?.close();
});

describe('check', () => {
  it('classifies every outcome by the server\'s answer, with one login per mailbox', async () => {
    const unavailable = await scriptedImapServer((tag) => `${tag} NO [UNAVAILABLE] Temporary authentication failure`);
    const silent = await silentServer();
    // A plaintext server on the implicit-TLS port: its greeting is not a TLS handshake.
    const plainOn993 = await scriptedImapServer((tag) => `${tag} OK`, '127.0.0.5', 993).catch(() => undefined);
    cleanups.push(unavailable.close, silent.close, ...(plainOn993 ? [plainOn993.close] : []));
    const refused = await closedPort();
    const d = DEMO_MAILBOXES;
    const rows = [
      ['email', 'imap_password', 'imap_host', 'imap_port', 'smtp_host', 'smtp_port'],
      ['alice@demo.test', d['alice@demo.test']!, '127.0.0.1', String(mail.imapPort), '127.0.0.1', String(mail.smtpPort)],
      ['bob@demo.test', 'wrong', '127.0.0.1', String(mail.imapPort), '', ''],
      ['carol@demo.test', d['carol@demo.test']!, '127.0.0.1', String(mail.imapPort), '127.0.0.1', String(mail.smtpPort)],
      ['u1@x.test', 'x', '127.0.0.1', String(unavailable.port), '', ''],
      ['u2@x.test', 'x', '127.0.0.1', String(silent.port), '', ''],
      ['u3@x.test', 'x', '127.0.0.1', String(refused), '', ''],
      ['u4@x.test', 'x', 'no-such-host.invalid', '143', '', ''],
      ['u5@x.test', 'x', '127.0.0.5', '993', '', ''],
      ['not-an-email', 'x', '127.0.0.1', '143', '', ''],
    ];
    if (dovecot) {
      rows.push(['dana@example.test', 'dana-secret', '127.0.0.1', String(dovecot.port), '', '']);
      rows.push(['dana2@example.test', 'nope', '127.0.0.1', String(dovecot.port), '', '']);
    }
    // carol's SMTP password differs: IMAP ok, SMTP refused.
    rows[3]![1] = d['carol@demo.test']!;
    const csv = await writeCsv(dir, rows, 'check.csv');
    const r = await preflightCheck({ csvPath: csv, outDir: join(dir, 'out'), defaults: {}, log: capturedLogger().log, concurrency: 10, perHostConcurrency: 3, loginTimeoutMs: 1500 });
    const report = Object.fromEntries((await readReport(r.path)).map((x) => [x.email, x]));

    expect(report['alice@demo.test']).toMatchObject({ imap_result: 'ok', smtp_result: 'ok', would_fail: 'no' });
    expect(report['bob@demo.test']).toMatchObject({ imap_result: 'AUTHENTICATIONFAILED', would_fail: 'yes' });
    expect(report['u1@x.test']).toMatchObject({ imap_result: 'UNAVAILABLE' });
    expect(report['u2@x.test']).toMatchObject({ imap_result: 'timeout' });
    expect(report['u3@x.test']).toMatchObject({ imap_result: 'refused' });
    expect(report['u4@x.test']).toMatchObject({ imap_result: 'DNS' });
    if (plainOn993) expect(report['u5@x.test']).toMatchObject({ imap_result: 'TLS' });
    expect(report['not-an-email']).toMatchObject({ would_fail: 'yes', imap_result: 'not_checked' });
    expect(report['not-an-email']!.reason).toMatch(/^email:/);
    if (dovecot) {
      expect(report['dana@example.test']).toMatchObject({ imap_result: 'ok' });
      expect(report['dana2@example.test']).toMatchObject({ imap_result: 'AUTHENTICATIONFAILED', imap_detail: 'IMAP server refused the login [AUTHENTICATIONFAILED]' });
    }
    expect(silent.connections()).toBe(1); // one attempt, no retry
    expect(r.rejected).toBe(1);
  });

  it('caps logins per host and says so in the exit code', async () => {
    const slow = await silentServer();
    cleanups.push(slow.close);
    const rows = [['email', 'imap_password', 'imap_host', 'imap_port'], ...Array.from({ length: 6 }, (_, i) => [`s${i}@slow.test`, 'x', '127.0.0.1', String(slow.port)])];
    const csv = await writeCsv(dir, rows, 'slow.csv');
    const r = await runCli(['check', csv, '--out', join(dir, 'slow'), '--per-host-concurrency', '2', '--login-timeout', '600']);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('Checked 6 mailbox(es): 0 ok, 6 would fail (timeout 6)');
    expect(slow.connections()).toBe(6);
    expect(slow.maxOpen()).toBeLessThanOrEqual(2);
  });
});
