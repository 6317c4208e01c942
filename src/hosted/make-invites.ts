import { readFile } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import { signState } from '../core/signed-state.js';
import type { KeyRing } from '../crypto/key-ring.js';
import type { NylasClient } from '../nylas/sdk.js';
import { CsvFile } from '../reports/csv-file.js';

/** Dead letters a person can fix by entering a new (app) password. */
export const INVITABLE = new Set(['invalid_authentication', 'auth_limit_reached']);

export const INVITE_COLUMNS = ['line', 'email', 'error_type', 'invite_url', 'expires_at'] as const;

export interface InviteOptions {
  deadLetterPath: string;
  outPath: string;
  nylas: NylasClient;
  ring: KeyRing;
  clientId: string;
  redirectUri: string;
  /** Queue whose ledger the callback records grants in. */
  queue: string;
  ttlMs: number;
  now?: number;
}

export const stateKeys = (ring: KeyRing): Buffer[] => [ring.current.key, ...[...ring.byId.entries()].filter(([id]) => id !== ring.current.id).map(([, k]) => k)].map((k) => k.export());

/**
 * One hosted-auth link per row that failed because of its password: Nylas
 * asks the user for a new (app) password, with the email filled in.
 */
export async function makeInvites(o: InviteOptions): Promise<{ invited: number; skipped: number }> {
  const rows = parse(await readFile(o.deadLetterPath, 'utf8'), { columns: true, bom: true }) as Array<Record<string, string>>;
  if (rows.length > 0 && !('error_type' in rows[0]! && 'email' in rows[0]!)) {
    throw new Error(`${o.deadLetterPath}: expected a dead-letter.csv written by imap-grants (columns email and error_type)`);
  }
  const now = o.now ?? Date.now();
  const key = o.ring.current.key.export();
  const out = new CsvFile(o.outPath, INVITE_COLUMNS);
  let invited = 0;
  let skipped = 0;
  try {
    for (const r of rows) {
      if (!INVITABLE.has(r.error_type ?? '')) {
        skipped++;
        continue;
      }
      const email = (r.email ?? '').trim();
      const exp = now + o.ttlMs;
      const state = signState({ email: email.toLowerCase(), line: Number(r.line), queue: o.queue, exp }, key);
      const url = o.nylas.auth.urlForOAuth2({ clientId: o.clientId, redirectUri: o.redirectUri, provider: 'imap', loginHint: email, state });
      await out.write({ line: r.line, email, error_type: r.error_type, invite_url: url, expires_at: new Date(exp).toISOString() });
      invited++;
    }
  } finally {
    await out.close();
  }
  return { invited, skipped };
}
