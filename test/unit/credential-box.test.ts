import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { CredentialsUnreadableError, openSecrets, passwordFingerprint, sealSecrets } from '../../src/crypto/credential-box.js';
import { ephemeralKeyRing, KeyError, loadKeyRing } from '../../src/crypto/key-ring.js';

const secrets = { imapUsername: 'alice', imapPassword: 'pä"ss, word', smtpPassword: 's' };
const key = () => randomBytes(32).toString('base64');

describe('credential box', () => {
  it('round-trips and never contains the password', () => {
    const ring = ephemeralKeyRing();
    const sealed = sealSecrets(ring, secrets, 'q/job-1');
    expect(sealed).toMatch(/^v1\.[0-9a-f]{12}\./);
    expect(sealed).not.toContain('alice');
    expect(Buffer.from(sealed.split('.')[2]!, 'base64').toString('latin1')).not.toContain('ss, word');
    expect(openSecrets(ring, sealed, 'q/job-1')).toEqual(secrets);
  });

  const ring = ephemeralKeyRing();
  const sealed = sealSecrets(ring, secrets, 'q/job-1');
  const body = Buffer.from(sealed.split('.')[2]!, 'base64');
  body[body.length - 1] = body[body.length - 1]! ^ 1;
  const unreadable: Array<{ name: string; value: unknown; boundTo?: string; ring?: ReturnType<typeof ephemeralKeyRing>; message: RegExp }> = [
    { name: 'moved to another job', value: sealed, boundTo: 'q/job-2', message: /failed authentication/ },
    { name: 'changed ciphertext', value: `v1.${ring.current.id}.${body.toString('base64')}`, message: /failed authentication/ },
    { name: 'unknown key', value: sealed, ring: ephemeralKeyRing(), message: /sealed with key [0-9a-f]{12}, which is not configured/ },
    { name: 'scrubbed', value: undefined, message: /no sealed credentials/ },
    { name: 'unknown format', value: 'v9.x.y', message: /not in a format/ },
  ];
  it.each(unreadable)('refuses: $name', ({ value, boundTo, ring: other, message }) => {
    expect(() => openSecrets(other ?? ring, value, boundTo ?? 'q/job-1')).toThrow(CredentialsUnreadableError);
    expect(() => openSecrets(other ?? ring, value, boundTo ?? 'q/job-1')).toThrow(message);
  });

  it('opens jobs sealed under a previous key after rotation, and seals with the newest', () => {
    const oldKey = key();
    const newKey = key();
    const before = loadKeyRing({ key: oldKey })!;
    const sealedBefore = sealSecrets(before, secrets, 'b');
    const after = loadKeyRing({ key: newKey, previousKeys: oldKey })!;
    expect(openSecrets(after, sealedBefore, 'b')).toEqual(secrets);
    expect(sealSecrets(after, secrets, 'b').split('.')[1]).toBe(after.current.id);
    expect(after.current.id).not.toBe(before.current.id);
  });

  it.each([
    { name: 'short key', src: { key: 'abc' }, message: /IMAP_GRANTS_KEY: expected 32 random bytes in base64/ },
    { name: 'both sources', src: { key: key(), keyFile: '/x' }, message: /either IMAP_GRANTS_KEY or IMAP_GRANTS_KEY_FILE/ },
    { name: 'previous without current', src: { previousKeys: key() }, message: /no current key/ },
    { name: 'unreadable key file', src: { keyFile: '/nonexistent/key' }, message: /--key-file \/nonexistent\/key: cannot read \(ENOENT\)/ },
  ])('key problem: $name', ({ src, message }) => {
    expect(() => loadKeyRing(src)).toThrow(KeyError);
    expect(() => loadKeyRing(src)).toThrow(message);
  });

  it('fingerprints passwords by key', () => {
    const r = ephemeralKeyRing();
    expect(passwordFingerprint(r, 'a')).toBe(passwordFingerprint(r, 'a'));
    expect(passwordFingerprint(r, 'a')).not.toBe(passwordFingerprint(r, 'b'));
    expect(passwordFingerprint(ephemeralKeyRing(), 'a')).not.toBe(passwordFingerprint(r, 'a'));
  });
});
