import { createHash, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * The encryption keys of a deployment. New credentials are sealed with the
 * newest key; older keys stay listed so jobs sealed before a rotation can
 * still be opened. A key's id is a short hash of it, stored next to each
 * ciphertext, which says which key to use without revealing it.
 */
export interface KeyRing {
  current: { id: string; key: KeyObject };
  byId: Map<string, KeyObject>;
  /** True for a run's temporary in-memory key. */
  ephemeral: boolean;
}

export class KeyError extends Error {
  override name = 'KeyError';
}

const keyId = (raw: Buffer) => createHash('sha256').update('imap-grants key id\0').update(raw).digest('hex').slice(0, 12);

function decodeKey(text: string, where: string): Buffer {
  const trimmed = text.trim();
  const raw = Buffer.from(trimmed, 'base64');
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed) || raw.length !== 32) {
    throw new KeyError(
      `${where}: expected 32 random bytes in base64 (44 characters; make one with "openssl rand -base64 32"), got ${trimmed.length} characters decoding to ${raw.length} bytes`,
    );
  }
  return raw;
}

function ringFrom(raws: Buffer[], ephemeral: boolean): KeyRing {
  const byId = new Map<string, KeyObject>();
  for (const raw of raws) byId.set(keyId(raw), createSecretKey(raw));
  const first = raws[0]!;
  return { current: { id: keyId(first), key: byId.get(keyId(first))! }, byId, ephemeral };
}

export interface KeySources {
  /** IMAP_GRANTS_KEY: the current key, base64. */
  key?: string;
  /** IMAP_GRANTS_KEY_FILE / --key-file: a file holding the current key. */
  keyFile?: string;
  /** IMAP_GRANTS_PREVIOUS_KEYS: older keys, comma-separated, for decryption only. */
  previousKeys?: string;
}

/** Loads the key ring, or returns undefined when no key is configured at all. */
export function loadKeyRing(src: KeySources): KeyRing | undefined {
  if (src.key && src.keyFile) throw new KeyError('set either IMAP_GRANTS_KEY or IMAP_GRANTS_KEY_FILE (--key-file), not both');
  let current: Buffer | undefined;
  if (src.key) current = decodeKey(src.key, 'IMAP_GRANTS_KEY');
  if (src.keyFile) {
    let text: string;
    try {
      text = readFileSync(src.keyFile, 'utf8');
    } catch (e) {
      throw new KeyError(`--key-file ${src.keyFile}: cannot read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    current = decodeKey(text, `--key-file ${src.keyFile}`);
  }
  const previous = (src.previousKeys ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((k, i) => decodeKey(k, `IMAP_GRANTS_PREVIOUS_KEYS entry ${i + 1}`));
  if (!current) {
    if (previous.length > 0) throw new KeyError('IMAP_GRANTS_PREVIOUS_KEYS is set but no current key: set IMAP_GRANTS_KEY or --key-file');
    return undefined;
  }
  return ringFrom([current, ...previous], false);
}

/** A key that lives only in this process's memory, for a single-process `run`. */
export function ephemeralKeyRing(): KeyRing {
  return ringFrom([randomBytes(32)], true);
}

export function requireKeyRing(src: KeySources, command: string): KeyRing {
  const ring = loadKeyRing(src);
  if (!ring) {
    throw new KeyError(
      `${command} needs the encryption key shared by every process of the run: set IMAP_GRANTS_KEY (32 bytes, base64; "openssl rand -base64 32") or --key-file`,
    );
  }
  return ring;
}
