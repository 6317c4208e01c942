import type { Field } from './csv-columns.js';
import type { AcceptedRow, MailboxSettings, RejectedRow } from '../types.js';

/** Fallbacks for what a CSV leaves out (`--imap-host`, `--imap-port`, …). */
export interface RowDefaults {
  imapHost?: string;
  imapPort?: number;
  smtpHost?: string;
  smtpPort?: number;
}

export type RowResult = { ok: true; row: AcceptedRow } | { ok: false; rejected: RejectedRow };

// Deliberately plain: a local part without spaces or quotes, a dotted domain.
const EMAIL = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)$/;
const IPV6 = /^\[?[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*\]?$/;

export const isValidEmail = (s: string) => s.length <= 254 && EMAIL.test(s);
export const isValidHost = (s: string) => IPV4.test(s) || IPV6.test(s) || (HOSTNAME.test(s) && !/^\d+(\.\d+)*$/.test(s));

/** Shows an email in a message without letting a huge cell flood it. */
const show = (s: string) => JSON.stringify(s.length > 60 ? `${s.slice(0, 57)}...` : s);

/**
 * Other cells are described, never echoed: when columns are shifted, a host
 * or port cell may hold a password, and reasons end up in logs and reports.
 */
const describe = (s: string) => `a value of ${s.length} character${s.length === 1 ? '' : 's'} (not shown)`;

function parsePort(raw: string | undefined, field: Field): { ok: true; value?: number } | { ok: false; reason: string } {
  const s = raw?.trim() ?? '';
  if (s === '') return { ok: true };
  if (!/^\d{1,5}$/.test(s) || Number(s) < 1 || Number(s) > 65535) {
    return { ok: false, reason: `${field}: expected an integer from 1 to 65535, got ${describe(s)}` };
  }
  return { ok: true, value: Number(s) };
}

/**
 * Validates one CSV record. Pure: returns the accepted row or the reason it
 * was rejected, naming the field. Passwords are kept byte-exact, including
 * leading and trailing spaces, which only earn a warning.
 */
export function validateRow(fields: Partial<Record<Field, string>>, line: number, defaults: RowDefaults = {}): RowResult {
  const email = (fields.email ?? '').trim();
  const reject = (reason: string): RowResult => ({ ok: false, rejected: { line, email, reason } });

  if (email === '') return reject('email: required, but empty');
  if (!isValidEmail(email)) return reject(`email: expected an email address, got ${show(email)}`);

  const password = fields.imap_password ?? '';
  if (password === '') return reject('imap_password: required, but empty');
  if (password.includes('\0')) return reject('imap_password: contains a NUL byte');

  const settings: MailboxSettings = {};
  for (const [hostField, portField, hostKey, portKey] of [
    ['imap_host', 'imap_port', 'imapHost', 'imapPort'],
    ['smtp_host', 'smtp_port', 'smtpHost', 'smtpPort'],
  ] as const) {
    const host = (fields[hostField] ?? '').trim() || defaults[hostKey];
    if (host !== undefined && host !== '') {
      if (!isValidHost(host)) return reject(`${hostField}: expected a host name or IP address, got ${describe(host)}`);
      settings[hostKey] = host;
    }
    const port = parsePort(fields[portField], portField);
    if (!port.ok) return reject(port.reason);
    // A default port only makes sense next to a host; with no host Nylas detects both.
    const portValue = port.value ?? (settings[hostKey] ? defaults[portKey] : undefined);
    if (portValue !== undefined) settings[portKey] = portValue;
  }

  const warnings: string[] = [];
  const smtpPassword = fields.smtp_password === '' ? undefined : fields.smtp_password;
  for (const [name, value] of [
    ['imap_password', password],
    ['smtp_password', smtpPassword],
  ] as const) {
    if (value !== undefined && value !== value.trim()) {
      warnings.push(`${name} has leading or trailing spaces (kept as given; a common cause of a false "wrong password")`);
    }
  }
  const smtpUsername = (fields.smtp_username ?? '').trim();
  return {
    ok: true,
    row: {
      line,
      email,
      settings,
      secrets: {
        imapUsername: (fields.imap_username ?? '').trim() || email,
        imapPassword: password,
        ...(smtpUsername ? { smtpUsername } : {}),
        ...(smtpPassword !== undefined ? { smtpPassword } : {}),
      },
      warnings,
    },
  };
}
