import { createCipheriv, createDecipheriv, createHmac, randomFillSync } from 'node:crypto';
import type { MailboxSecrets } from '../types.js';
import type { KeyRing } from './key-ring.js';

/**
 * Sealed credentials: AES-256-GCM, bound by associated data to the job they
 * belong to, so a ciphertext copied onto another job does not open.
 *
 * Format: `v1.<key id>.<base64(iv ‖ tag ‖ ciphertext)>`.
 */

export class CredentialsUnreadableError extends Error {
  override name = 'CredentialsUnreadableError';
}

// IVs come from a pool refilled in bulk: one syscall per 4,096 rows instead of one per row.
const IV_BYTES = 12;
const pool = Buffer.alloc(IV_BYTES * 4096);
let poolOffset = pool.length;
function nextIv(): Buffer {
  if (poolOffset >= pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const iv = Buffer.from(pool.subarray(poolOffset, poolOffset + IV_BYTES));
  poolOffset += IV_BYTES;
  return iv;
}

/** Compact wire form of the secrets: short keys keep Redis small at a million rows. */
function pack(s: MailboxSecrets): string {
  const o: Record<string, string> = { u: s.imapUsername, p: s.imapPassword };
  if (s.smtpUsername !== undefined) o.su = s.smtpUsername;
  if (s.smtpPassword !== undefined) o.sp = s.smtpPassword;
  return JSON.stringify(o);
}

function unpack(text: string): MailboxSecrets {
  const o = JSON.parse(text) as Record<string, string>;
  if (typeof o.u !== 'string' || typeof o.p !== 'string') throw new Error('bad payload');
  return {
    imapUsername: o.u,
    imapPassword: o.p,
    ...(o.su !== undefined ? { smtpUsername: o.su } : {}),
    ...(o.sp !== undefined ? { smtpPassword: o.sp } : {}),
  };
}

export function sealSecrets(ring: KeyRing, secrets: MailboxSecrets, boundTo: string): string {
  const iv = nextIv();
  const cipher = createCipheriv('aes-256-gcm', ring.current.key, iv);
  cipher.setAAD(Buffer.from(boundTo, 'utf8'));
  const ct = Buffer.concat([cipher.update(pack(secrets), 'utf8'), cipher.final()]);
  return `v1.${ring.current.id}.${Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64')}`;
}

export function openSecrets(ring: KeyRing, sealed: unknown, boundTo: string): MailboxSecrets {
  if (typeof sealed !== 'string') throw new CredentialsUnreadableError('the job holds no sealed credentials (scrubbed or purged)');
  const [version, kid, body] = sealed.split('.');
  if (version !== 'v1' || !kid || !body) throw new CredentialsUnreadableError('the sealed credentials are not in a format this version reads');
  const key = ring.byId.get(kid);
  if (!key) {
    throw new CredentialsUnreadableError(
      `the credentials were sealed with key ${kid}, which is not configured (current key ${ring.current.id}); add it to IMAP_GRANTS_PREVIOUS_KEYS`,
    );
  }
  const raw = Buffer.from(body, 'base64');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(boundTo, 'utf8'));
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + 16));
    const text = Buffer.concat([decipher.update(raw.subarray(IV_BYTES + 16)), decipher.final()]).toString('utf8');
    return unpack(text);
  } catch {
    throw new CredentialsUnreadableError(`the sealed credentials failed authentication under key ${kid} (changed, or moved from another job)`);
  }
}

/**
 * A keyed fingerprint of a password: equal passwords give equal fingerprints
 * under the same key, so a team can tell whether a resubmitted password is
 * really new, and nobody can test guesses without the key.
 */
export function passwordFingerprint(ring: KeyRing, password: string): string {
  return createHmac('sha256', ring.current.key.export()).update('imap-grants password fingerprint\0').update(password, 'utf8').digest('hex').slice(0, 16);
}
