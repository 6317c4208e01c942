import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { LoginFailureClass } from '../core/classify-login-failure.js';
import { KeyedSemaphore } from '../core/keyed-semaphore.js';
import { validateRow, type RowDefaults } from '../core/validate-row.js';
import { readCsvRecords } from '../csv/read-rows.js';
import type { Logger } from '../log.js';
import { checkImapLogin, checkSmtpLogin, type LoginResult } from '../mail/login-check.js';
import { CsvFile } from '../reports/csv-file.js';
import type { AcceptedRow } from '../types.js';

export interface PreflightOptions {
  csvPath: string;
  outDir: string;
  defaults: RowDefaults;
  log: Logger;
  /** Logins in flight in total. */
  concurrency: number;
  /** Logins in flight per mail host. */
  perHostConcurrency: number;
  /** Overall deadline of one login, ms. */
  loginTimeoutMs: number;
  rejectUnauthorized?: boolean;
  signal?: AbortSignal;
}

export type CheckResult = 'ok' | LoginFailureClass | 'not_checked';

export interface PreflightSummary {
  rows: number;
  checked: number;
  ok: number;
  wouldFail: number;
  rejected: number;
  byClass: Record<string, number>;
  path: string;
}

export const CHECK_COLUMNS = ['line', 'email', 'imap_host', 'imap_result', 'imap_detail', 'smtp_host', 'smtp_result', 'smtp_detail', 'would_fail', 'reason'] as const;

const resultOf = (r: LoginResult): { result: CheckResult; detail: string } => (r.ok ? { result: 'ok', detail: '' } : { result: r.failure.class, detail: r.failure.detail });

/**
 * `check`: log in to each mailbox's IMAP server (and SMTP server, when given)
 * directly, without Nylas, and say which rows would fail. Exactly one login
 * attempt per mailbox and protocol: a preflight that retried a wrong password
 * would cause the lockouts it is meant to prevent.
 */
export async function preflightCheck(o: PreflightOptions): Promise<PreflightSummary> {
  await mkdir(o.outDir, { recursive: true, mode: 0o700 });
  const path = join(o.outDir, 'check.csv');
  const out = new CsvFile(path, CHECK_COLUMNS);
  const hosts = new KeyedSemaphore(o.perHostConcurrency);
  const seen = new Map<string, number>();
  const summary: PreflightSummary = { rows: 0, checked: 0, ok: 0, wouldFail: 0, rejected: 0, byClass: {}, path };
  const inFlight = new Set<Promise<void>>();
  const loginOpts = { timeoutMs: o.loginTimeoutMs, rejectUnauthorized: o.rejectUnauthorized };

  const checkRow = async (row: AcceptedRow) => {
    const imapHost = row.settings.imapHost;
    let imap: { result: CheckResult; detail: string } = { result: 'not_checked', detail: 'no imap_host: Nylas would detect it' };
    if (imapHost) {
      const release = await hosts.acquire(`imap:${imapHost}`);
      try {
        imap = resultOf(
          await checkImapLogin({ host: imapHost, port: row.settings.imapPort ?? 993, username: row.secrets.imapUsername, password: row.secrets.imapPassword }, loginOpts),
        );
      } finally {
        release();
      }
    }
    let smtp: { result: CheckResult; detail: string } = { result: 'not_checked', detail: '' };
    const smtpHost = row.settings.smtpHost;
    if (smtpHost) {
      const release = await hosts.acquire(`smtp:${smtpHost}`);
      try {
        smtp = resultOf(
          await checkSmtpLogin(
            {
              host: smtpHost,
              port: row.settings.smtpPort ?? 465,
              username: row.secrets.smtpUsername ?? row.secrets.imapUsername,
              password: row.secrets.smtpPassword ?? row.secrets.imapPassword,
            },
            loginOpts,
          ),
        );
      } finally {
        release();
      }
    }
    const failed = [imap.result, smtp.result].filter((r) => r !== 'ok' && r !== 'not_checked');
    summary.checked++;
    if (failed.length === 0) summary.ok++;
    else summary.wouldFail++;
    for (const f of failed) summary.byClass[f] = (summary.byClass[f] ?? 0) + 1;
    o.log.info({ event: 'check:row', line: row.line, email: row.email, imap: imap.result, smtp: smtp.result }, `${row.email}: ${failed.length ? failed.join(', ') : 'ok'}`);
    await out.write({
      line: row.line,
      email: row.email,
      imap_host: imapHost ?? '',
      imap_result: imap.result,
      imap_detail: imap.detail,
      smtp_host: smtpHost ?? '',
      smtp_result: smtp.result,
      smtp_detail: smtp.detail,
      would_fail: failed.length ? 'yes' : 'no',
      reason: '',
    });
  };

  try {
    for await (const rec of readCsvRecords(o.csvPath)) {
      if (o.signal?.aborted) break;
      summary.rows++;
      let rejectedReason: string | undefined;
      let email = rec.kind === 'malformed' ? rec.email : (rec.fields.email ?? '').trim();
      if (rec.kind === 'malformed') rejectedReason = rec.reason;
      else {
        const v = validateRow(rec.fields, rec.line, o.defaults);
        if (!v.ok) rejectedReason = v.rejected.reason;
        else {
          email = v.row.email;
          const first = seen.get(email.toLowerCase());
          if (first !== undefined) rejectedReason = `email: duplicate of line ${first}`;
          else {
            seen.set(email.toLowerCase(), rec.line);
            while (inFlight.size >= o.concurrency) await Promise.race(inFlight);
            const p: Promise<void> = checkRow(v.row).finally(() => inFlight.delete(p));
            inFlight.add(p);
            continue;
          }
        }
      }
      summary.rejected++;
      await out.write({ line: rec.line, email, would_fail: 'yes', reason: rejectedReason, imap_result: 'not_checked', smtp_result: 'not_checked' });
    }
    await Promise.all(inFlight);
  } finally {
    await out.close();
  }
  return summary;
}
