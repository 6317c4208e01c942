/**
 * The sandbox's login check against a real, widely deployed IMAP server.
 * Skipped only where dovecot is not installed; .ci/run installs it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NylasApiError } from 'nylas';
import { checkImapLogin } from '../../src/mail/login-check.js';
import type { RunningSandbox } from '../../src/sandbox/server.js';
import type { NylasClient } from '../../src/nylas/sdk.js';
import { hasDovecot, startDovecot, type RunningDovecot } from '../helpers/dovecot.js';
import { sandboxWithClient } from '../helpers/sandbox.js';

const users = { 'alice@example.test': 'alice-secret', 'bob@example.test': 'b0b "quoted", ü' };

describe.skipIf(!hasDovecot())('against dovecot', () => {
  let dovecot: RunningDovecot;
  let sandbox: RunningSandbox;
  let nylas: NylasClient;

  beforeAll(async () => {
    dovecot = await startDovecot(users);
    ({ sandbox, nylas } = await sandboxWithClient({ requireConnector: false }));
  });
  afterAll(async () => {
    await sandbox?.close();
    await dovecot?.close();
  });

  const auth = (email: string, password: string) =>
    nylas.auth.customAuthentication({
      requestBody: { provider: 'imap', settings: { imap_username: email, imap_password: password, imap_host: '127.0.0.1', imap_port: dovecot.port } } as never,
    });

  it('grants for a correct password, including quotes and UTF-8', async () => {
    for (const [email, pw] of Object.entries(users)) {
      const res = await auth(email, pw);
      expect(res.data.email).toBe(email);
    }
  });

  it('answers invalid_authentication for NO [AUTHENTICATIONFAILED]', async () => {
    const e = await auth('alice@example.test', 'wrong').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(NylasApiError);
    expect((e as NylasApiError).statusCode).toBe(400);
    expect((e as NylasApiError).type).toContain('invalid_authentication');
    expect(((e as NylasApiError).providerError as { detail: string }).detail).toContain('[AUTHENTICATIONFAILED]');
  });

  it('classifies the login directly by response code', async () => {
    expect(await checkImapLogin({ host: '127.0.0.1', port: dovecot.port, username: 'alice@example.test', password: 'alice-secret' }, { timeoutMs: 5000 })).toEqual({ ok: true });
    const bad = await checkImapLogin({ host: '127.0.0.1', port: dovecot.port, username: 'nobody@example.test', password: 'x' }, { timeoutMs: 5000 });
    expect(bad).toEqual({ ok: false, failure: { class: 'AUTHENTICATIONFAILED', protocol: 'imap', detail: 'IMAP server refused the login [AUTHENTICATIONFAILED]' } });
  });
});
