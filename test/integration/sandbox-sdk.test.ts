/**
 * The official `nylas` SDK against a running sandbox, over real sockets, with
 * real IMAP and SMTP servers behind it. Each assertion is about what the SDK
 * sees, because that is what must not differ from Nylas.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NylasApiError, NylasOAuthError, NylasSdkTimeoutError } from 'nylas';
import { startDemoMailServers, DEMO_MAILBOXES, type RunningMailServers } from '../../src/demo/mail-servers.js';
import type { RunningSandbox } from '../../src/sandbox/server.js';
import { createNylasClient, type NylasClient } from '../../src/nylas/sdk.js';
import { closedPort, scriptedImapServer, silentServer } from '../helpers/net.js';
import { raw, sandboxWithClient, TEST_API_KEY } from '../helpers/sandbox.js';

let mail: RunningMailServers;
let sandbox: RunningSandbox;
let nylas: NylasClient;

const imap = (email: string, password: string, extra: Record<string, unknown> = {}) => ({
  provider: 'imap' as const,
  settings: { imap_username: email, imap_password: password, imap_host: '127.0.0.1', imap_port: mail.imapPort, ...extra },
});

async function apiError(p: Promise<unknown>): Promise<NylasApiError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(NylasApiError);
  return e as NylasApiError;
}

beforeAll(async () => {
  mail = await startDemoMailServers();
  ({ sandbox, nylas } = await sandboxWithClient({ rate: 1000 }));
  await nylas.connectors.create({ requestBody: { provider: 'imap', name: 'imap' } as any });
});
afterAll(async () => {
  await sandbox?.close();
  await mail?.close();
});

describe('custom authentication', () => {
  it('creates a grant for a correct password, camelCased, without the password', async () => {
    const res = await nylas.auth.customAuthentication({ requestBody: imap('alice@demo.test', DEMO_MAILBOXES['alice@demo.test']!) as any });
    expect(res.data.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.data.grantStatus).toBe('valid');
    expect(res.data.provider).toBe('imap');
    expect(res.data.email).toBe('alice@demo.test');
    expect(res.data.createdAt).toBe(res.data.updatedAt);
    expect(res.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect((res.data.settings as any).imapHost).toBe('127.0.0.1');
    expect(JSON.stringify(res)).not.toContain(DEMO_MAILBOXES['alice@demo.test']);
  });

  it('passes UTF-8 and quoted passwords byte-exact to the IMAP server', async () => {
    for (const email of ['bob@demo.test', 'carol@demo.test']) {
      const res = await nylas.auth.customAuthentication({ requestBody: imap(email, DEMO_MAILBOXES[email]!) as any });
      expect(res.data.email).toBe(email);
    }
  });

  it('re-authentication keeps the id and moves updatedAt; deletion frees the email', async () => {
    const pw = DEMO_MAILBOXES['dave@demo.test']!;
    const first = await nylas.auth.customAuthentication({ requestBody: imap('dave@demo.test', pw) as any });
    await raw(sandbox, `/__sandbox/grants/${first.data.id}/invalidate`, { method: 'POST' });
    expect((await nylas.grants.find({ grantId: first.data.id })).data.grantStatus).toBe('invalid');

    const again = await nylas.auth.customAuthentication({ requestBody: imap('dave@demo.test', pw) as any });
    expect(again.data.id).toBe(first.data.id);
    expect(again.data.grantStatus).toBe('valid');
    expect(again.data.updatedAt!).toBeGreaterThan(first.data.updatedAt!);

    const gone = await nylas.grants.destroy({ grantId: first.data.id });
    expect(gone.requestId).toBeTruthy();
    const fresh = await nylas.auth.customAuthentication({ requestBody: imap('dave@demo.test', pw) as any });
    expect(fresh.data.id).not.toBe(first.data.id);
  });

  it('answers 400 invalid_authentication for a wrong password, requestId from the header', async () => {
    const e = await apiError(nylas.auth.customAuthentication({ requestBody: imap('erin@demo.test', 'wrong') as any }));
    expect(e.statusCode).toBe(400);
    expect(e.type).toContain('invalid_authentication');
    expect(e.requestId).toBe((e.headers as any)['x-request-id']);
    expect(e.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(e.message).not.toContain('wrong');
  });

  it('answers 504 provider_error when the IMAP port refuses connections', async () => {
    const e = await apiError(
      nylas.auth.customAuthentication({ requestBody: imap('alice@demo.test', 'x', { imap_port: await closedPort() }) as any }),
    );
    expect(e.statusCode).toBe(504);
    expect(e.type).toBe('provider_error');
    expect(e.message).toBe('Provider request timed out.');
    expect((e.providerError as any).class).toBe('refused');
  });

  it('answers 504 when the IMAP server accepts and never greets, within --provider-timeout', async () => {
    const silent = await silentServer();
    try {
      const started = Date.now();
      const e = await apiError(
        nylas.auth.customAuthentication({ requestBody: imap('alice@demo.test', 'x', { imap_port: silent.port }) as any }),
      );
      expect(e.statusCode).toBe(504);
      expect((e.providerError as any).class).toBe('timeout');
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(silent.connections()).toBe(1);
    } finally {
      await silent.close();
    }
  });

  it('treats NO [UNAVAILABLE] as the provider not responding, not as a wrong password', async () => {
    const fake = await scriptedImapServer((tag) => `${tag} NO [UNAVAILABLE] Temporary authentication failure`);
    try {
      const e = await apiError(
        nylas.auth.customAuthentication({ requestBody: imap('frank@demo.test', 'x', { imap_port: fake.port }) as any }),
      );
      expect(e.statusCode).toBe(504);
      expect((e.providerError as any).class).toBe('UNAVAILABLE');
    } finally {
      await fake.close();
    }
  });

  it('checks SMTP too when SMTP settings are given', async () => {
    const pw = DEMO_MAILBOXES['alice@demo.test']!;
    const ok = await nylas.auth.customAuthentication({
      requestBody: imap('alice@demo.test', pw, { smtp_host: '127.0.0.1', smtp_port: mail.smtpPort }) as any,
    });
    expect(ok.data.grantStatus).toBe('valid');

    const bad = await apiError(
      nylas.auth.customAuthentication({
        requestBody: imap('alice@demo.test', pw, { smtp_host: '127.0.0.1', smtp_port: mail.smtpPort, smtp_password: 'nope' }) as any,
      }),
    );
    expect(bad.statusCode).toBe(400);
    expect(bad.type).toContain('invalid_authentication');
    expect((bad.providerError as any).protocol).toBe('smtp');

    const silent = await silentServer();
    try {
      const slow = await apiError(
        nylas.auth.customAuthentication({
          requestBody: imap('alice@demo.test', pw, { smtp_host: '127.0.0.1', smtp_port: silent.port }) as any,
        }),
      );
      expect(slow.statusCode).toBe(504);
      expect((slow.providerError as any).protocol).toBe('smtp');
    } finally {
      await silent.close();
    }
  });

  it('rejects a request without provider, as Nylas does', async () => {
    const e = await apiError(nylas.auth.customAuthentication({ requestBody: { settings: {} } as any }));
    expect(e.statusCode).toBe(400);
    expect(e.type).toBe('grant.provider_required');
  });

  it('refuses a wrong API key with 401 token.unauthorized_access', async () => {
    const wrong = createNylasClient({ apiKey: 'not-the-key', apiUri: sandbox.url });
    const e = await apiError(wrong.grants.list());
    expect(e.statusCode).toBe(401);
    expect(e.type).toBe('token.unauthorized_access');
  });
});

describe('auth_limit_reached', () => {
  it('locks an email after three failed logins, without contacting the server, until the window passes', async () => {
    const { sandbox: sb, nylas: n } = await sandboxWithClient({ authLimitWindowMs: 1_500 });
    try {
      await n.connectors.create({ requestBody: { provider: 'imap', name: 'imap' } as any });
      for (let i = 0; i < 3; i++) {
        const e = await apiError(n.auth.customAuthentication({ requestBody: imap('erin@demo.test', `wrong-${i}`) as any }));
        expect(e.type).toContain('invalid_authentication');
      }
      // Pointed at a dead port: had the sandbox tried to log in, this would be a 504.
      const locked = await apiError(
        n.auth.customAuthentication({ requestBody: imap('erin@demo.test', DEMO_MAILBOXES['erin@demo.test']!, { imap_port: await closedPort() }) as any }),
      );
      expect(locked.statusCode).toBe(400);
      expect(locked.type).toContain('auth_limit_reached');
      // Other mailboxes are unaffected.
      await n.auth.customAuthentication({ requestBody: imap('alice@demo.test', DEMO_MAILBOXES['alice@demo.test']!) as any });

      await new Promise((r) => setTimeout(r, 1_600));
      const res = await n.auth.customAuthentication({ requestBody: imap('erin@demo.test', DEMO_MAILBOXES['erin@demo.test']!) as any });
      expect(res.data.grantStatus).toBe('valid');
    } finally {
      await sb.close();
    }
  });
});

describe('grants listing', () => {
  it('pages by limit and offset, never sends next_cursor, and filters', async () => {
    const { sandbox: sb, nylas: n } = await sandboxWithClient();
    try {
      for (let i = 0; i < 25; i++) {
        sb.store.upsert(`user${i}@paging.test`, { imap_host: 'h' }, {}, 1_700_000_000 + i);
      }
      const page = await raw(sb, '/v3/grants?limit=10&offset=20&provider=imap');
      expect(page.json.data).toHaveLength(5);
      expect(page.json).not.toHaveProperty('next_cursor');
      expect(page.json.limit).toBe(10);
      expect(page.json.offset).toBe(20);

      const seen = new Set<string>();
      for (let offset = 0; ; offset += 10) {
        const res = await n.grants.list({ queryParams: { limit: 10, offset, provider: 'imap' } as any });
        for (const g of res.data) seen.add(g.email!);
        if (res.data.length < 10) break;
      }
      expect(seen.size).toBe(25);

      const def = await n.grants.list();
      expect(def.data).toHaveLength(10);
      expect(def.data[0]!.email).toBe('user24@paging.test'); // created_at desc by default

      const one = await n.grants.list({ queryParams: { email: 'USER3@paging.test' } as any });
      expect(one.data.map((g: { email?: string }) => g.email)).toEqual(['user3@paging.test']);

      const g = sb.store.list({ limit: 1, offset: 0, sortBy: 'created_at', orderBy: 'asc' })[0]!;
      g.grantStatus = 'invalid';
      const invalid = await n.grants.list({ queryParams: { grantStatus: 'invalid' } as any });
      expect(invalid.data.map((x: { id: string }) => x.id)).toEqual([g.id]);

      const capped = await raw(sb, '/v3/grants?limit=500');
      expect(capped.json.limit).toBe(200);
    } finally {
      await sb.close();
    }
  });

  it('finds, updates and 404s as the SDK expects', async () => {
    const { grant } = sandbox.store.upsert('patch@demo.test', { imap_host: 'a' }, {}, 1_700_000_000);
    const found = await nylas.grants.find({ grantId: grant.id });
    expect(found.data.email).toBe('patch@demo.test');
    const updated = await nylas.grants.update({ grantId: grant.id, requestBody: { settings: { imap_host: 'b' }, scope: ['x'] } });
    expect((updated.data.settings as any).imapHost).toBe('b');
    expect(updated.data.scope).toEqual(['x']);
    const e = await apiError(nylas.grants.find({ grantId: 'nope' }));
    expect(e.statusCode).toBe(404);
    expect(e.type).toBe('grant.not_found');
  });
});

describe('connectors', () => {
  it('creates, finds, lists, updates with PUT and PATCH, refuses duplicates, and deletes', async () => {
    const { sandbox: sb, nylas: n } = await sandboxWithClient();
    try {
      const missing = await apiError(n.connectors.find({ provider: 'imap' }));
      expect(missing.statusCode).toBe(404);
      const created = await n.connectors.create({ requestBody: { provider: 'imap', name: 'first' } as any });
      expect(created.data.provider).toBe('imap');
      const dup = await apiError(n.connectors.create({ requestBody: { provider: 'imap', name: 'again' } as any }));
      expect(dup.statusCode).toBe(409);
      expect(((await n.connectors.find({ provider: 'imap' })).data as any).name).toBe('first');
      expect((await n.connectors.list({})).data).toHaveLength(1);
      const put = await n.connectors.update({ provider: 'imap', requestBody: { name: 'second' } });
      expect((put.data as any).name).toBe('second');
      const patched = await raw(sb, '/v3/connectors/imap', { method: 'PATCH', body: JSON.stringify({ name: 'third' }) });
      expect(patched.json.data.name).toBe('third');
      await n.connectors.destroy({ provider: 'imap' });
      expect((await apiError(n.connectors.find({ provider: 'imap' }))).statusCode).toBe(404);
    } finally {
      await sb.close();
    }
  });

  it('refuses custom auth until an IMAP connector exists', async () => {
    const { sandbox: sb, nylas: n } = await sandboxWithClient();
    try {
      const e = await apiError(n.auth.customAuthentication({ requestBody: imap('alice@demo.test', DEMO_MAILBOXES['alice@demo.test']!) as any }));
      expect(e.statusCode).toBe(400);
      expect(e.message).toContain('connector');
    } finally {
      await sb.close();
    }
  });
});

describe('wire rules', () => {
  it('sends JSON bodies and an x-request-id equal to request_id on every answer', async () => {
    const answers = [
      await raw(sandbox, '/v3/grants'),
      await raw(sandbox, '/v3/grants/unknown'),
      await raw(sandbox, '/v3/no-such-route'),
      await raw(sandbox, '/v3/grants', {}, 'wrong-key'),
      await raw(sandbox, '/v3/connect/custom', { method: 'POST', body: '{not json' }),
    ];
    for (const a of answers) {
      expect(a.res.headers.get('content-type')).toContain('application/json');
      expect(a.res.headers.get('x-request-id')).toBe(a.json.request_id);
    }
    expect(answers.map((a) => a.res.status)).toEqual([200, 404, 404, 401, 400]);
  });

  it('enforces the per-application rate limit with 429 nylas_rate_limit_exceeded', async () => {
    const { sandbox: sb, nylas: n } = await sandboxWithClient({ rate: 5 });
    try {
      const results = await Promise.allSettled(Array.from({ length: 8 }, () => n.grants.list()));
      const refused = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as NylasApiError);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
      expect(refused).toHaveLength(3);
      for (const e of refused) {
        expect(e.statusCode).toBe(429);
        expect(e.type).toBe('nylas_rate_limit_exceeded');
      }
      expect(sb.stats.rateLimited).toBe(3);
    } finally {
      await sb.close();
    }
  });
});

describe('faults, as the SDK reports them', () => {
  const withFault = async (spec: string, clientTimeout?: number) => {
    const { parseFaultMix } = await import('../../src/core/fault-mix.js');
    const parsed = parseFaultMix(spec);
    if (!parsed.ok) throw new Error(parsed.error);
    const { sandbox: sb, nylas: n } = await sandboxWithClient({ faults: parsed.value, requireConnector: false }, { timeout: clientTimeout });
    const err = await n.auth.customAuthentication({ requestBody: imap('alice@demo.test', 'x') as any }).then(
      () => undefined,
      (e: unknown) => e,
    );
    await sb.close();
    return err as any;
  };

  it('a non-JSON 502 becomes a plain Error', async () => {
    const e = await withFault('502html:1');
    expect(e).toBeInstanceOf(Error);
    expect(e).not.toBeInstanceOf(NylasApiError);
    expect(e.message).toMatch(/^Received an error but could not parse response/);
  });

  it('a connection reset becomes TypeError: fetch failed', async () => {
    const e = await withFault('reset:1');
    expect(e).toBeInstanceOf(TypeError);
    expect(e.message).toBe('fetch failed');
  });

  it('a hang becomes NylasSdkTimeoutError', async () => {
    const e = await withFault('hang:1', 1);
    expect(e).toBeInstanceOf(NylasSdkTimeoutError);
    expect(e.timeout).toBe(1);
  });

  it('a provider-side 429 carries Retry-After; Nylas\'s own 429 does not', async () => {
    const provider = await withFault('429ra:1');
    expect(provider.statusCode).toBe(429);
    expect(provider.headers['retry-after']).toBe('1');
    expect(provider.providerError).toBeTruthy();
    const own = await withFault('429:1');
    expect(own.statusCode).toBe(429);
    expect(own.type).toBe('nylas_rate_limit_exceeded');
    expect(own.headers['retry-after']).toBeUndefined();
  });

  it('a 504 fault is a NylasApiError provider_error', async () => {
    const e = await withFault('504:1');
    expect(e).toBeInstanceOf(NylasApiError);
    expect(e.statusCode).toBe(504);
    expect(e.type).toBe('provider_error');
  });
});

describe('hosted auth for IMAP', () => {
  const redirectUri = 'http://127.0.0.1:9/callback';

  async function submit(url: string, password: string) {
    const form = await fetch(url);
    expect(form.status).toBe(200);
    const html = await form.text();
    const value = (name: string) => html.match(new RegExp(`name="${name}" (?:id="${name}" )?value="([^"]*)"`))?.[1] ?? '';
    const body = new URLSearchParams({
      client_id: value('client_id'),
      redirect_uri: value('redirect_uri').replace(/&amp;/g, '&'),
      state: value('state'),
      email: value('email'),
      imap_password: password,
      imap_host: '127.0.0.1',
      imap_port: String(mail.imapPort),
    });
    const res = await fetch(`${sandbox.url}/v3/connect/auth`, { method: 'POST', body, redirect: 'manual' });
    expect(res.status).toBe(302);
    return new URL(res.headers.get('location')!);
  }

  it('goes from the form through the redirect to a one-time code exchange', async () => {
    const url = nylas.auth.urlForOAuth2({ clientId: 'client-1', redirectUri, provider: 'imap', loginHint: 'alice@demo.test', state: 'row-7' });
    expect(url.startsWith(`${sandbox.url}/v3/connect/auth?`)).toBe(true);
    const back = await submit(url, DEMO_MAILBOXES['alice@demo.test']!);
    expect(back.origin + back.pathname).toBe(redirectUri);
    expect(back.searchParams.get('state')).toBe('row-7');
    const code = back.searchParams.get('code')!;
    expect(code).toBeTruthy();

    const token = await nylas.auth.exchangeCodeForToken({ clientId: 'client-1', redirectUri, codeVerifier: undefined as any, code });
    expect(token.email).toBe('alice@demo.test');
    const grant = await nylas.grants.find({ grantId: token.grantId });
    expect(grant.data.email).toBe('alice@demo.test');

    const reuse = await nylas.auth.exchangeCodeForToken({ clientId: 'client-1', redirectUri, code }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(reuse).toBeInstanceOf(NylasOAuthError);
  });

  it('redirects with error_type and state when the password is wrong', async () => {
    const url = nylas.auth.urlForOAuth2({ clientId: 'client-1', redirectUri, provider: 'imap', loginHint: 'bob@demo.test', state: 's2' });
    const back = await submit(url, 'wrong');
    expect(back.searchParams.get('error_type')).toBe('invalid_authentication');
    expect(back.searchParams.get('state')).toBe('s2');
    expect(back.searchParams.get('code')).toBeNull();
  });
});

it('the API key used by tests never appears in an answer', async () => {
  const a = await raw(sandbox, '/v3/grants?limit=200');
  expect(a.text).not.toContain(TEST_API_KEY);
});
