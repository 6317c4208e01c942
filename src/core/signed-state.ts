import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The `state` of a hosted-auth invite: which row it is for and until when it
 * is good, signed so nobody can forge or stretch one. Nylas limits `state`
 * to 256 characters; this stays far below.
 *
 * Form: `<base64url(JSON payload)>.<base64url(HMAC-SHA256)>`.
 */
export interface InviteState {
  /** Lower-cased email the invite is for. */
  email: string;
  /** CSV line of the row. */
  line: number;
  /** Queue (run) whose ledger records the grant. */
  queue: string;
  /** Expiry, Unix ms. */
  exp: number;
}

export type StateCheck = { ok: true; state: InviteState } | { ok: false; reason: 'malformed' | 'forged' | 'expired' };

const mac = (key: Buffer, body: string) => createHmac('sha256', key).update('imap-grants invite state\0').update(body).digest();

export function signState(state: InviteState, key: Buffer): string {
  const body = Buffer.from(JSON.stringify({ e: state.email, l: state.line, q: state.queue, x: state.exp })).toString('base64url');
  return `${body}.${mac(key, body).toString('base64url')}`;
}

export function verifyState(token: string, keys: readonly Buffer[], now: number): StateCheck {
  const [body, sig, extra] = token.split('.');
  if (!body || !sig || extra !== undefined) return { ok: false, reason: 'malformed' };
  const given = Buffer.from(sig, 'base64url');
  const signedBy = keys.find((k) => {
    const want = mac(k, body);
    return want.length === given.length && timingSafeEqual(want, given);
  });
  if (!signedBy) return { ok: false, reason: 'forged' };
  let p: { e?: unknown; l?: unknown; q?: unknown; x?: unknown };
  try {
    p = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (typeof p.e !== 'string' || typeof p.l !== 'number' || typeof p.q !== 'string' || typeof p.x !== 'number') return { ok: false, reason: 'malformed' };
  if (p.x < now) return { ok: false, reason: 'expired' };
  return { ok: true, state: { email: p.e, line: p.l, queue: p.q, exp: p.x } };
}
