import { describe, expect, it } from 'vitest';
import { mapHeader, pickFields } from '../../src/core/csv-columns.js';
import { validateRow } from '../../src/core/validate-row.js';

const ok = { email: 'a@example.com', imap_password: 'pw' };

const rejected: Array<{ name: string; fields: Record<string, string>; reason: RegExp }> = [
  { name: 'empty email', fields: { ...ok, email: '' }, reason: /^email: required/ },
  { name: 'not an address', fields: { ...ok, email: 'bob@' }, reason: /^email: expected an email address, got "bob@"/ },
  { name: 'spaces in address', fields: { ...ok, email: 'a b@example.com' }, reason: /^email:/ },
  { name: 'no password', fields: { ...ok, imap_password: '' }, reason: /^imap_password: required/ },
  { name: 'NUL in password', fields: { ...ok, imap_password: 'a\0b' }, reason: /^imap_password: contains a NUL/ },
  { name: 'port zero', fields: { ...ok, imap_port: '0' }, reason: /^imap_port: expected an integer from 1 to 65535, got a value of 1 character \(not shown\)/ },
  { name: 'port too big', fields: { ...ok, smtp_port: '65536' }, reason: /^smtp_port:/ },
  { name: 'port not a number', fields: { ...ok, imap_port: '99a' }, reason: /^imap_port:/ },
  { name: 'port with decimals', fields: { ...ok, imap_port: '993.0' }, reason: /^imap_port:/ },
  { name: 'host with space', fields: { ...ok, imap_host: 'imap .example.com' }, reason: /^imap_host: expected a host name/ },
  { name: 'host with scheme', fields: { ...ok, smtp_host: 'smtp://x.com' }, reason: /^smtp_host:/ },
  { name: 'host label too long', fields: { ...ok, imap_host: `${'a'.repeat(64)}.com` }, reason: /^imap_host:/ },
];

const accepted: Array<{ name: string; fields: Record<string, string>; expect: (r: any) => void }> = [
  { name: 'username defaults to the email', fields: ok, expect: (r) => expect(r.secrets.imapUsername).toBe('a@example.com') },
  { name: 'explicit username', fields: { ...ok, imap_username: 'alice' }, expect: (r) => expect(r.secrets.imapUsername).toBe('alice') },
  { name: 'host and port', fields: { ...ok, imap_host: 'imap.example.com', imap_port: '143' }, expect: (r) => expect(r.settings).toEqual({ imapHost: 'imap.example.com', imapPort: 143 }) },
  { name: 'IPv4 host', fields: { ...ok, imap_host: '127.0.0.1' }, expect: (r) => expect(r.settings.imapHost).toBe('127.0.0.1') },
  { name: 'IPv6 host', fields: { ...ok, imap_host: '::1' }, expect: (r) => expect(r.settings.imapHost).toBe('::1') },
  {
    name: 'password kept byte-exact with spaces, and a warning',
    fields: { ...ok, imap_password: ' p w ' },
    expect: (r) => {
      expect(r.secrets.imapPassword).toBe(' p w ');
      expect(r.warnings[0]).toMatch(/^imap_password has leading or trailing spaces/);
    },
  },
  { name: 'UTF-8, quotes and commas kept', fields: { ...ok, imap_password: 'pä"ss,word\n2' }, expect: (r) => expect(r.secrets.imapPassword).toBe('pä"ss,word\n2') },
  { name: 'SMTP credentials', fields: { ...ok, smtp_username: 'su', smtp_password: 'sp' }, expect: (r) => expect(r.secrets).toMatchObject({ smtpUsername: 'su', smtpPassword: 'sp' }) },
  { name: 'no host: nothing sent, Nylas detects', fields: ok, expect: (r) => expect(r.settings).toEqual({}) },
];

describe('validateRow', () => {
  it.each(rejected)('rejects $name', ({ fields, reason }) => {
    const r = validateRow(fields, 42);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.rejected.line).toBe(42);
      expect(r.rejected.reason).toMatch(reason);
    }
  });

  it.each(accepted)('accepts: $name', ({ fields, expect: check }) => {
    const r = validateRow(fields, 2);
    expect(r.ok).toBe(true);
    if (r.ok) check(r.row);
  });

  it('fills defaults only where the CSV is silent, and a port only next to a host', () => {
    const d = { imapHost: 'imap.d.com', imapPort: 993, smtpPort: 465 };
    const r = validateRow({ ...ok, imap_port: '143' }, 2, d);
    expect(r.ok && r.row.settings).toEqual({ imapHost: 'imap.d.com', imapPort: 143 });
  });

  it.each(['imap_host', 'imap_port', 'smtp_host', 'smtp_port'])('never echoes a %s cell, which may be a shifted password', (field) => {
    const r = validateRow({ email: 'x@example.com', imap_password: 'pw', [field]: 'S3cret pass!' }, 3);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.rejected.reason).toMatch(new RegExp(`^${field}: expected .*, got a value of 12 characters \\(not shown\\)$`));
      expect(r.rejected.reason).not.toContain('S3cret');
    }
  });
});

describe('mapHeader', () => {
  const cases: Array<{ name: string; header: string[]; error?: RegExp; fields?: Record<string, number> }> = [
    { name: 'canonical names', header: ['email', 'imap_password', 'imap_host'], fields: { email: 0, imap_password: 1, imap_host: 2 } },
    { name: 'case, spaces and underscores ignored', header: ['E-Mail', 'IMAP Password', 'Imap_Port'], fields: { email: 0, imap_password: 1, imap_port: 2 } },
    { name: 'Exchange migration columns', header: ['EmailAddress', 'UserName', 'Password'], fields: { email: 0, imap_username: 1, imap_password: 2 } },
    { name: 'missing password column', header: ['email', 'imap_host'], error: /required column missing: imap_password \(or Password\)/ },
    { name: 'no header, data on line 1', header: ['a@b.com', 'secret'], error: /no header row; line 1 looks like data/ },
    { name: 'semicolon file', header: ['email;imap_password'], error: /seems to use ";" as delimiter/ },
    { name: 'tab file', header: ['email\timap_password'], error: /seems to use tabs as delimiter/ },
    { name: 'duplicate column', header: ['email', 'Email Address', 'password'], error: /column 2 \("Email Address"\): duplicate column/ },
    { name: 'empty header', header: [''], error: /header row is empty/ },
  ];
  it.each(cases)('$name', ({ header, error, fields }) => {
    const r = mapHeader(header);
    if (error) {
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error).toMatch(error);
    } else {
      expect(r.ok).toBe(true);
      if (r.ok) expect(r.columns.index).toEqual(fields);
    }
  });

  it('picks fields by column', () => {
    const r = mapHeader(['x', 'email', 'password']);
    if (!r.ok) throw new Error(r.error);
    expect(r.columns.ignored).toEqual(['x']);
    expect(pickFields(['1', 'a@b.c', 'p'], r.columns)).toEqual({ email: 'a@b.c', imap_password: 'p' });
  });
});
