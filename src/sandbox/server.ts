import http from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import { AuthFailureTracker } from '../core/auth-failure-tracker.js';
import { pickFault, seededRandom, type FaultKind } from '../core/fault-mix.js';
import { SlidingWindow } from '../core/sliding-window.js';
import { checkImapLogin, checkSmtpLogin, type LoginResult } from '../mail/login-check.js';
import { listen } from '../net/listen.js';
import { GrantStore, grantToWire, type GrantListQuery } from './grant-store.js';
import { renderHostedAuthForm } from './hosted-auth-page.js';
import { SANDBOX_DEFAULTS, type SandboxOptions } from './options.js';

export { SANDBOX_DEFAULTS, type SandboxOptions };

export interface SandboxStats {
  requests: number;
  /** 429s from the sandbox's own per-application limiter. */
  rateLimited: number;
  /** The most API requests that arrived in any sliding second. */
  peakPerSecond: number;
  faults: Partial<Record<FaultKind, number>>;
  customAuth: { calls: number; created: number; reauthenticated: number; invalid: number; locked: number; unreachable: number };
  /** Custom-auth calls per lower-cased email (what a chaos check compares with attempts). */
  authCallsByEmail: Record<string, number>;
  /** When each email's last custom-auth call arrived (Unix ms): nothing may come after its final state. */
  lastAuthCallAt: Record<string, number>;
  /** Answers per email that were not 429s, including faults (an attempt's worth of API work each). */
  nonRateLimitedAnswersByEmail: Record<string, number>;
  /** Custom-auth calls being answered right now, the most at once, and their summed time (ms): busy / window = calls in flight on average. */
  customAuthInFlight: { now: number; peak: number; busyMs: number };
}

export interface RunningSandbox {
  url: string;
  port: number;
  store: GrantStore;
  stats: SandboxStats;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly providerError?: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/**
 * `--latency`: no answer leaves before `due`. The request is handled at once,
 * so a custom auth's IMAP login runs inside the latency, as at Nylas, whose
 * answer time is mostly that login; adding the two overstated every call.
 */
function holdAnswer(res: http.ServerResponse, due: number): void {
  const end = res.end.bind(res) as (...args: unknown[]) => http.ServerResponse;
  res.end = ((...args: unknown[]) => {
    const left = due - Date.now();
    if (left > 0) setTimeout(() => end(...args), left);
    else end(...args);
    return res;
  }) as typeof res.end;
}

/** Answers as Nylas does: a JSON body, with `x-request-id` equal to the body's `request_id`. */
function sendJson(res: http.ServerResponse, status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): void {
  const requestId = (body.request_id as string | undefined) ?? randomUUID();
  const payload = JSON.stringify({ request_id: requestId, ...body });
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(payload),
    'x-request-id': requestId,
    'x-fastly-id': `sandbox-${requestId.slice(0, 8)}`,
    ...headers,
  });
  res.end(payload);
}

function sendError(res: http.ServerResponse, e: HttpError): void {
  const error: Record<string, unknown> = { type: e.type, message: e.message };
  if (e.providerError) error.provider_error = e.providerError;
  sendJson(res, e.status, { error }, e.headers);
}

async function readBody(req: http.IncomingMessage, limit = 1_000_000): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new HttpError(413, 'api.invalid_request_payload', 'Request body too large.');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function readParams(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  const text = await readBody(req);
  if (text.trim() === '') return {};
  if ((req.headers['content-type'] ?? '').includes('application/x-www-form-urlencoded')) {
    return Object.fromEntries(new URLSearchParams(text));
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new HttpError(400, 'api.invalid_request_payload', 'Request body must be a JSON object.');
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

function port(v: unknown, field: string): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    throw new HttpError(400, 'invalid_request_error', `${field} must be an integer from 1 to 65535.`);
  }
  return n;
}

function intParam(q: URLSearchParams, name: string, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = q.get(name);
  if (raw === null || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new HttpError(400, 'invalid_request_error', `${name} must be a non-negative integer.`);
  return Math.min(n, max);
}

interface ImapSettings {
  imapUsername: string;
  imapPassword: string;
  imapHost: string;
  imapPort: number;
  smtpHost?: string;
  smtpPort?: number;
  smtpUsername?: string;
  smtpPassword?: string;
}

/** Nylas auto-detects missing hosts from the address's domain; so do we, naively. */
function settingsFrom(raw: Record<string, unknown>): ImapSettings {
  const imapUsername = str(raw.imap_username);
  const imapPassword = typeof raw.imap_password === 'string' ? raw.imap_password : undefined;
  if (!imapUsername) throw new HttpError(400, 'invalid_request_error', 'settings.imap_username is required.');
  if (imapPassword === undefined || imapPassword === '') {
    throw new HttpError(400, 'invalid_request_error', 'settings.imap_password is required.');
  }
  const domain = imapUsername.includes('@') ? imapUsername.split('@').pop()! : undefined;
  const imapHost = str(raw.imap_host) ?? (domain ? `imap.${domain}` : undefined);
  if (!imapHost) throw new HttpError(400, 'invalid_request_error', 'settings.imap_host is required when imap_username is not an email address.');
  return {
    imapUsername,
    imapPassword,
    imapHost,
    imapPort: port(raw.imap_port, 'settings.imap_port') ?? 993,
    smtpHost: str(raw.smtp_host),
    smtpPort: port(raw.smtp_port, 'settings.smtp_port'),
    smtpUsername: str(raw.smtp_username),
    smtpPassword: typeof raw.smtp_password === 'string' ? raw.smtp_password : undefined,
  };
}

function emailOf(s: ImapSettings): string {
  return (s.imapUsername.includes('@') ? s.imapUsername : `${s.imapUsername}@${s.imapHost}`).toLowerCase();
}

function nonSecretSettings(s: ImapSettings): Record<string, unknown> {
  const out: Record<string, unknown> = { imap_username: s.imapUsername, imap_host: s.imapHost, imap_port: s.imapPort };
  if (s.smtpHost) out.smtp_host = s.smtpHost;
  if (s.smtpPort) out.smtp_port = s.smtpPort;
  if (s.smtpUsername) out.smtp_username = s.smtpUsername;
  return out;
}

type AuthVerdict =
  | { ok: true }
  | { ok: false; errorType: 'invalid_authentication' | 'auth_limit_reached' | 'provider_not_responding'; error: HttpError };

interface IssuedCode {
  grantId: string;
  email: string;
  clientId: string;
  redirectUri: string;
  expiresAt: number;
}

export async function startSandbox(options: Partial<SandboxOptions> & { apiKey: string }): Promise<RunningSandbox> {
  const opts: SandboxOptions = { ...SANDBOX_DEFAULTS, ...options };
  const log = opts.logger;
  const store = new GrantStore();
  const limiter = new SlidingWindow(opts.rate, 1000);
  const lockout = new AuthFailureTracker(opts.authLimitMax, opts.authLimitWindowMs);
  const random = seededRandom(opts.seed);
  const codes = new Map<string, IssuedCode>();
  const hanging = new Set<http.ServerResponse>();
  const stats: SandboxStats = {
    requests: 0,
    rateLimited: 0,
    peakPerSecond: 0,
    faults: {},
    customAuth: { calls: 0, created: 0, reauthenticated: 0, invalid: 0, locked: 0, unreachable: 0 },
    authCallsByEmail: {},
    lastAuthCallAt: {},
    nonRateLimitedAnswersByEmail: {},
    customAuthInFlight: { now: 0, peak: 0, busyMs: 0 },
  };

  const loginOpts = { timeoutMs: opts.providerTimeoutMs, rejectUnauthorized: opts.rejectUnauthorized };

  /** The login check Nylas makes at grant creation: IMAP, then SMTP when given. */
  async function verifyMailbox(s: ImapSettings, email: string): Promise<AuthVerdict> {
    const now = Date.now();
    if (lockout.isLocked(email, now)) {
      const waitS = Math.ceil(lockout.lockedForMs(email, now) / 1000);
      return {
        ok: false,
        errorType: 'auth_limit_reached',
        error: new HttpError(400, 'grant.auth_limit_reached', `Too many failed authentication attempts for this account. Try again in ${waitS} s.`),
      };
    }
    const checks: Array<() => Promise<LoginResult>> = [
      () => checkImapLogin({ host: s.imapHost, port: s.imapPort, username: s.imapUsername, password: s.imapPassword }, loginOpts),
    ];
    if (s.smtpHost) {
      checks.push(() =>
        checkSmtpLogin(
          {
            host: s.smtpHost!,
            port: s.smtpPort ?? 465,
            username: s.smtpUsername ?? s.imapUsername,
            password: s.smtpPassword ?? s.imapPassword,
          },
          loginOpts,
        ),
      );
    }
    for (const check of checks) {
      const result = await check();
      if (result.ok) continue;
      const { failure } = result;
      const providerError = { protocol: failure.protocol, class: failure.class, detail: failure.detail };
      if (failure.class === 'AUTHENTICATIONFAILED') {
        lockout.recordFailure(email, Date.now());
        return {
          ok: false,
          errorType: 'invalid_authentication',
          error: new HttpError(400, 'grant.invalid_authentication', `Authentication failed: ${failure.detail}.`, providerError),
        };
      }
      return {
        ok: false,
        errorType: 'provider_not_responding',
        error: new HttpError(504, 'provider_error', 'Provider request timed out.', providerError),
      };
    }
    lockout.recordSuccess(email);
    return { ok: true };
  }

  function requireKey(req: http.IncomingMessage, params?: Record<string, unknown>): void {
    const auth = req.headers.authorization ?? '';
    const bearer = auth.startsWith('Bearer ') ? auth.slice(7) : undefined;
    if (bearer !== opts.apiKey && str(params?.client_secret) !== opts.apiKey) {
      throw new HttpError(401, 'token.unauthorized_access', 'Bearer token invalid');
    }
  }

  async function applyFault(kind: FaultKind, res: http.ServerResponse): Promise<boolean> {
    stats.faults[kind] = (stats.faults[kind] ?? 0) + 1;
    switch (kind) {
      case 'reset':
        res.socket?.destroy();
        return true;
      case 'hang':
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        return true;
      case '502html': {
        const body = '<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>';
        res.writeHead(502, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(body) });
        res.end(body);
        return true;
      }
      case '429':
        sendError(res, new HttpError(429, 'nylas_rate_limit_exceeded', 'Too many requests, please try again shortly.'));
        return true;
      case '429ra':
        sendError(
          res,
          new HttpError(429, 'rate_limit_error', 'The provider is rate limiting requests.', { message: 'throttled by provider' }, { 'retry-after': '1' }),
        );
        return true;
      case '504':
        sendError(res, new HttpError(504, 'provider_error', 'Provider request timed out.'));
        return true;
      case '500':
        sendError(res, new HttpError(500, 'api.internal_error', 'Internal error.'));
        return true;
      case '502':
        sendError(res, new HttpError(502, 'api.internal_error', 'The upstream server is unavailable, please try again.'));
        return true;
      case '503':
        sendError(res, new HttpError(503, 'api.internal_error', 'Service unavailable, please try again.'));
        return true;
    }
  }

  async function customAuth(req: http.IncomingMessage, res: http.ServerResponse, body: Record<string, unknown>): Promise<void> {
    stats.customAuth.calls++;
    const provider = str(body.provider);
    if (!provider) throw new HttpError(400, 'grant.provider_required', 'Provider field is required');
    if (provider !== 'imap') throw new HttpError(400, 'invalid_request_error', `The sandbox only emulates provider "imap", got "${provider}".`);
    if (!body.settings || typeof body.settings !== 'object') throw new HttpError(400, 'invalid_request_error', 'settings are required.');
    if (opts.requireConnector && !store.connectors.has('imap')) {
      throw new HttpError(400, 'invalid_request_error', 'connector not found for provider imap');
    }
    const s = settingsFrom(body.settings as Record<string, unknown>);
    const email = emailOf(s);
    stats.authCallsByEmail[email] = (stats.authCallsByEmail[email] ?? 0) + 1;
    const verdict = await verifyMailbox(s, email);
    if (!verdict.ok) {
      if (verdict.errorType === 'invalid_authentication') stats.customAuth.invalid++;
      else if (verdict.errorType === 'auth_limit_reached') stats.customAuth.locked++;
      else stats.customAuth.unreachable++;
      throw verdict.error;
    }
    const { grant, created } = store.upsert(
      email,
      nonSecretSettings(s),
      {
        state: str(body.state),
        scope: Array.isArray(body.scope) ? (body.scope as string[]) : undefined,
        ip: req.socket.remoteAddress,
        userAgent: req.headers['user-agent'],
      },
      Math.floor(Date.now() / 1000),
    );
    if (created) stats.customAuth.created++;
    else stats.customAuth.reauthenticated++;
    sendJson(res, 201, { data: grantToWire(grant) });
  }

  function listGrants(res: http.ServerResponse, q: URLSearchParams): void {
    const sortBy = q.get('sort_by') ?? 'created_at';
    const orderBy = q.get('order_by') ?? 'desc';
    if (sortBy !== 'created_at' && sortBy !== 'updated_at') throw new HttpError(400, 'invalid_request_error', 'sort_by must be created_at or updated_at.');
    if (orderBy !== 'asc' && orderBy !== 'desc') throw new HttpError(400, 'invalid_request_error', 'order_by must be asc or desc.');
    const query: GrantListQuery = {
      limit: intParam(q, 'limit', 10, 200),
      offset: intParam(q, 'offset', 0),
      provider: q.get('provider') ?? undefined,
      email: q.get('email') ?? undefined,
      grantStatus: q.get('grant_status') ?? undefined,
      ip: q.get('ip') ?? undefined,
      since: q.has('since') ? intParam(q, 'since', 0) : undefined,
      before: q.has('before') ? intParam(q, 'before', 0) : undefined,
      sortBy,
      orderBy,
    };
    const data = store.list(query).map(grantToWire);
    // Offset paging only: Nylas sends no next_cursor here, and the SDK would follow one.
    sendJson(res, 200, { data, limit: query.limit, offset: query.offset });
  }

  function findGrant(id: string) {
    const g = store.get(id);
    if (!g) throw new HttpError(404, 'grant.not_found', `Grant ${id} not found.`);
    return g;
  }

  function connectorWire(provider: string) {
    const c = store.connectors.get(provider);
    if (!c) throw new HttpError(404, 'not_found_error', `Connector for provider ${provider} not found.`);
    return { name: c.name, provider: c.provider, settings: c.settings, scope: c.scope };
  }

  function hostedAuthForm(res: http.ServerResponse, q: URLSearchParams): void {
    const redirectUri = q.get('redirect_uri');
    const clientId = q.get('client_id');
    if (!redirectUri || !clientId) throw new HttpError(400, 'invalid_request_error', 'client_id and redirect_uri are required.');
    if ((q.get('provider') ?? 'imap') !== 'imap') throw new HttpError(400, 'invalid_request_error', 'The sandbox hosts auth for provider "imap" only.');
    const state = q.get('state') ?? '';
    if (state.length > 256) throw new HttpError(400, 'invalid_request_error', 'state may be at most 256 characters.');
    const html = renderHostedAuthForm({
      clientId,
      redirectUri,
      state,
      loginHint: q.get('login_hint') ?? '',
      imapHost: q.get('imap_host') ?? '',
      imapPort: q.get('imap_port') ?? '',
      smtpHost: q.get('smtp_host') ?? '',
      smtpPort: q.get('smtp_port') ?? '',
      smtpRequired: q.get('options') === 'smtp_required',
    });
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html) });
    res.end(html);
  }

  async function hostedAuthSubmit(req: http.IncomingMessage, res: http.ServerResponse, form: Record<string, unknown>): Promise<void> {
    const redirectUri = str(form.redirect_uri);
    const clientId = str(form.client_id);
    if (!redirectUri || !clientId) throw new HttpError(400, 'invalid_request_error', 'client_id and redirect_uri are required.');
    const state = typeof form.state === 'string' ? form.state : '';
    const target = new URL(redirectUri);
    const email = str(form.email);
    let verdict: AuthVerdict;
    let settings: ImapSettings | undefined;
    try {
      settings = settingsFrom({ ...form, imap_username: str(form.imap_username) ?? email });
      verdict = await verifyMailbox(settings, (email ?? emailOf(settings)).toLowerCase());
    } catch (e) {
      if (!(e instanceof HttpError)) throw e;
      verdict = { ok: false, errorType: 'invalid_authentication', error: e };
    }
    if (!verdict.ok || !settings) {
      const failed = verdict as Extract<AuthVerdict, { ok: false }>;
      target.searchParams.set('error', 'access_denied');
      target.searchParams.set('error_type', failed.errorType);
      target.searchParams.set('error_description', failed.error.message);
    } else {
      const { grant } = store.upsert(
        (email ?? emailOf(settings)).toLowerCase(),
        nonSecretSettings(settings),
        { ip: req.socket.remoteAddress, userAgent: req.headers['user-agent'] },
        Math.floor(Date.now() / 1000),
      );
      const code = randomBytes(24).toString('base64url');
      codes.set(code, { grantId: grant.id, email: grant.email, clientId, redirectUri, expiresAt: Date.now() + 10 * 60_000 });
      target.searchParams.set('code', code);
    }
    target.searchParams.set('state', state);
    res.writeHead(302, { location: target.toString(), 'content-length': 0 });
    res.end();
  }

  function exchangeCode(res: http.ServerResponse, body: Record<string, unknown>): void {
    const oauthError = (description: string, code = 40004) =>
      sendJson(res, 400, {
        error: 'invalid_grant',
        error_code: code,
        error_description: description,
        error_uri: 'https://developer.nylas.com/docs/api/errors/',
      });
    const code = str(body.code);
    if (str(body.grant_type) !== 'authorization_code') return oauthError('grant_type must be authorization_code', 40001);
    const issued = code ? codes.get(code) : undefined;
    if (!code || !issued || issued.expiresAt < Date.now()) return oauthError('Invalid or expired authorization code');
    codes.delete(code); // a code works once
    if (str(body.client_id) !== issued.clientId || str(body.redirect_uri) !== issued.redirectUri) {
      return oauthError('client_id or redirect_uri does not match the authorization request', 40005);
    }
    sendJson(res, 200, {
      access_token: randomBytes(24).toString('base64url'),
      expires_in: 3600,
      id_token: randomBytes(24).toString('base64url'),
      email: issued.email,
      scope: '',
      token_type: 'Bearer',
      grant_id: issued.grantId,
      provider: 'imap',
    });
  }

  async function admin(res: http.ServerResponse, method: string, path: string): Promise<void> {
    let m: RegExpMatchArray | null;
    if (method === 'GET' && path === '/__sandbox/stats') {
      return sendJson(res, 200, { data: { ...stats, peakPerSecond: limiter.peak, grants: store.size } });
    }
    if (method === 'POST' && path === '/__sandbox/reset') {
      store.reset();
      return sendJson(res, 200, { data: { reset: true } });
    }
    if (method === 'POST' && (m = path.match(/^\/__sandbox\/grants\/([^/]+)\/invalidate$/))) {
      const g = findGrant(decodeURIComponent(m[1]!));
      g.grantStatus = 'invalid';
      return sendJson(res, 200, { data: grantToWire(g) });
    }
    throw new HttpError(404, 'not_found_error', `No sandbox admin route ${method} ${path}.`);
  }

  async function route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const method = req.method ?? 'GET';
    const path = url.pathname;
    let m: RegExpMatchArray | null;

    // Hosted auth is a browser page: no Bearer key, no JSON.
    if (path === '/v3/connect/auth' && method === 'GET') return hostedAuthForm(res, url.searchParams);
    if (path === '/v3/connect/auth' && method === 'POST') return hostedAuthSubmit(req, res, await readParams(req));

    if (path === '/healthz') return sendJson(res, 200, { data: { ok: true } });
    if (path.startsWith('/__sandbox/')) {
      requireKey(req);
      return admin(res, method, path);
    }
    if (!path.startsWith('/v3/')) throw new HttpError(404, 'not_found_error', `No route ${method} ${path}.`);

    stats.requests++;
    const body = method === 'GET' || method === 'DELETE' ? {} : await readParams(req);
    requireKey(req, path === '/v3/connect/token' ? body : undefined);
    if (!limiter.tryTake(Date.now())) {
      stats.rateLimited++;
      throw new HttpError(429, 'nylas_rate_limit_exceeded', 'Too many requests, please try again shortly.');
    }
    if (opts.latencyMs > 0) holdAnswer(res, Date.now() + opts.latencyMs);

    if (path === '/v3/connect/custom' && method === 'POST') {
      const fault = pickFault(opts.faults, random());
      const settings = (body.settings ?? {}) as Record<string, unknown>;
      const who = typeof settings.imap_username === 'string' ? settings.imap_username.toLowerCase() : undefined;
      if (who) {
        stats.lastAuthCallAt[who] = Date.now();
        if (!fault?.startsWith('429')) stats.nonRateLimitedAnswersByEmail[who] = (stats.nonRateLimitedAnswersByEmail[who] ?? 0) + 1;
      }
      const flight = stats.customAuthInFlight;
      const arrived = Date.now();
      flight.peak = Math.max(flight.peak, ++flight.now);
      try {
        if (fault && (await applyFault(fault, res))) return;
        return await customAuth(req, res, body);
      } finally {
        flight.now--;
        flight.busyMs += Date.now() - arrived;
      }
    }
    if (path === '/v3/connect/token' && method === 'POST') return exchangeCode(res, body);
    if (path === '/v3/grants' && method === 'GET') return listGrants(res, url.searchParams);
    if ((m = path.match(/^\/v3\/grants\/([^/]+)$/))) {
      const id = decodeURIComponent(m[1]!);
      if (method === 'GET') return sendJson(res, 200, { data: grantToWire(findGrant(id)) });
      if (method === 'PATCH') {
        const g = findGrant(id);
        if (body.settings !== undefined) {
          if (typeof body.settings !== 'object' || body.settings === null) throw new HttpError(400, 'invalid_request_error', 'settings must be an object.');
          g.settings = body.settings as Record<string, unknown>;
        }
        if (body.scope !== undefined) {
          if (!Array.isArray(body.scope)) throw new HttpError(400, 'invalid_request_error', 'scope must be an array of strings.');
          g.scope = body.scope as string[];
        }
        g.updatedAt = Math.max(Math.floor(Date.now() / 1000), g.updatedAt);
        return sendJson(res, 200, { data: grantToWire(g) });
      }
      if (method === 'DELETE') {
        if (!store.delete(id)) throw new HttpError(404, 'grant.not_found', `Grant ${id} not found.`);
        return sendJson(res, 200, {});
      }
    }
    if (path === '/v3/connectors' && method === 'POST') {
      const provider = str(body.provider);
      if (!provider) throw new HttpError(400, 'invalid_request_error', 'provider is required.');
      if (store.connectors.has(provider)) throw new HttpError(409, 'conflict', `A connector for provider ${provider} already exists.`);
      store.connectors.set(provider, {
        provider,
        name: str(body.name) ?? `${provider} connector`,
        settings: {},
        scope: Array.isArray(body.scope) ? (body.scope as string[]) : [],
      });
      return sendJson(res, 201, { data: connectorWire(provider) });
    }
    if (path === '/v3/connectors' && method === 'GET') {
      const limit = intParam(url.searchParams, 'limit', 10, 200);
      const offset = intParam(url.searchParams, 'offset', 0);
      const data = [...store.connectors.keys()].slice(offset, offset + limit).map(connectorWire);
      return sendJson(res, 200, { data, limit, offset });
    }
    if ((m = path.match(/^\/v3\/connectors\/([^/]+)$/))) {
      const provider = decodeURIComponent(m[1]!);
      if (method === 'GET') return sendJson(res, 200, { data: connectorWire(provider) });
      if (method === 'PUT' || method === 'PATCH') {
        connectorWire(provider);
        const c = store.connectors.get(provider)!;
        if (str(body.name)) c.name = str(body.name)!;
        if (body.settings && typeof body.settings === 'object') c.settings = body.settings as Record<string, unknown>;
        if (Array.isArray(body.scope)) c.scope = body.scope as string[];
        return sendJson(res, 200, { data: connectorWire(provider) });
      }
      if (method === 'DELETE') {
        connectorWire(provider);
        store.connectors.delete(provider);
        return sendJson(res, 200, {});
      }
    }
    throw new HttpError(404, 'not_found_error', `No route ${method} ${path}.`);
  }

  const server = http.createServer((req, res) => {
    const started = Date.now();
    route(req, res)
      .catch((err: unknown) => {
        if (res.headersSent || res.destroyed) return;
        if (err instanceof HttpError) return sendError(res, err);
        log?.error({ err: err instanceof Error ? err.message : String(err) }, 'sandbox: unexpected error');
        sendError(res, new HttpError(500, 'api.internal_error', 'Internal error.'));
      })
      .finally(() => {
        if (!hanging.has(res)) {
          log?.debug({ method: req.method, path: (req.url ?? '').split('?')[0], status: res.statusCode, ms: Date.now() - started }, 'sandbox: request');
        }
      });
  });
  server.keepAliveTimeout = 65_000;

  const listening = await listen(server, opts.host, opts.port);

  return {
    url: listening.url,
    port: listening.port,
    store,
    get stats() {
      return { ...stats, peakPerSecond: limiter.peak };
    },
    close: async () => {
      for (const res of hanging) res.socket?.destroy();
      await listening.close();
    },
  };
}
