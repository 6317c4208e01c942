/**
 * Header handling: which CSV column feeds which field. Names are compared
 * case-insensitively with spaces, underscores and hyphens ignored, and the
 * Exchange Online IMAP migration names (EmailAddress, UserName, Password) are
 * accepted so teams can reuse the files they already have.
 */

export const FIELDS = [
  'email',
  'imap_username',
  'imap_password',
  'imap_host',
  'imap_port',
  'smtp_host',
  'smtp_port',
  'smtp_username',
  'smtp_password',
] as const;

export type Field = (typeof FIELDS)[number];

const ALIASES: Record<string, Field> = {
  email: 'email',
  emailaddress: 'email',
  imapusername: 'imap_username',
  username: 'imap_username',
  imappassword: 'imap_password',
  password: 'imap_password',
  apppassword: 'imap_password',
  imaphost: 'imap_host',
  imapport: 'imap_port',
  smtphost: 'smtp_host',
  smtpport: 'smtp_port',
  smtpusername: 'smtp_username',
  smtppassword: 'smtp_password',
};

export const normaliseHeader = (name: string) => name.toLowerCase().replace(/[\s_-]+/g, '');

export interface ColumnMap {
  /** Column index of each field present in the file. */
  index: Partial<Record<Field, number>>;
  /** Header names that feed no field (reported, otherwise ignored). */
  ignored: string[];
  width: number;
}

export type HeaderResult = { ok: true; columns: ColumnMap } | { ok: false; error: string };

const looksLikeData = (cell: string) => /@/.test(cell) || /^\d+$/.test(cell.trim());

export function mapHeader(header: readonly string[]): HeaderResult {
  if (header.length === 0 || header.every((h) => h.trim() === '')) {
    return { ok: false, error: 'line 1: the header row is empty; expected column names such as email,imap_password' };
  }
  const index: Partial<Record<Field, number>> = {};
  const ignored: string[] = [];
  for (const [i, name] of header.entries()) {
    const field = ALIASES[normaliseHeader(name)];
    if (!field) {
      if (name.trim() !== '') ignored.push(name);
      continue;
    }
    const earlier = index[field];
    if (earlier !== undefined) {
      return {
        ok: false,
        error: `line 1, column ${i + 1} ("${name}"): duplicate column; "${header[earlier]}" (column ${earlier + 1}) already gives ${field}`,
      };
    }
    index[field] = i;
  }
  const missing = (['email', 'imap_password'] as const).filter((f) => index[f] === undefined);
  if (missing.length > 0) {
    if (header.some(looksLikeData)) {
      return {
        ok: false,
        error: `line 1: no header row; line 1 looks like data. Add a header such as email,imap_username,imap_password,imap_host,imap_port`,
      };
    }
    if (header.length === 1 && /[;\t|]/.test(header[0]!)) {
      const sep = header[0]!.match(/[;\t|]/)![0];
      return {
        ok: false,
        error: `line 1: the header has a single column "${header[0]}"; the file seems to use ${sep === '\t' ? 'tabs' : `"${sep}"`} as delimiter, but imap-grants reads comma-separated files`,
      };
    }
    const names = missing.map((f) => (f === 'email' ? 'email (or EmailAddress)' : 'imap_password (or Password)'));
    return { ok: false, error: `line 1: required column${missing.length > 1 ? 's' : ''} missing: ${names.join(', ')}; found ${header.map((h) => `"${h}"`).join(', ')}` };
  }
  return { ok: true, columns: { index, ignored, width: header.length } };
}

/** Picks the fields of one record by the header's column map. */
export function pickFields(record: readonly string[], columns: ColumnMap): Partial<Record<Field, string>> {
  const out: Partial<Record<Field, string>> = {};
  for (const field of FIELDS) {
    const i = columns.index[field];
    if (i !== undefined && record[i] !== undefined) out[field] = record[i];
  }
  return out;
}
