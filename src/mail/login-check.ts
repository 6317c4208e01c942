import { classifyLoginFailure, type LoginErrorFacts, type LoginFailure } from '../core/classify-login-failure.js';

/** Where and how to log in. Ports decide TLS: 993 and 465 are implicit TLS. */
export interface LoginTarget {
  host: string;
  port: number;
  username: string;
  password: string;
}

export interface LoginCheckOptions {
  /** Overall deadline for one login, in ms. imapflow's own socket timeout is 5 min. */
  timeoutMs: number;
  /** Verify TLS certificates (off only for self-signed test servers). */
  rejectUnauthorized?: boolean;
}

export type LoginResult = { ok: true } | { ok: false; failure: LoginFailure };

class DeadlineError extends Error {
  code = 'DEADLINE';
}

function withDeadline<T>(work: Promise<T>, ms: number, onTimeout: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new DeadlineError(`no answer within ${ms} ms`));
    }, ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

function facts(protocol: 'imap' | 'smtp', err: unknown): LoginErrorFacts {
  const e = (err ?? {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return {
    protocol,
    code: str(e.originalCode) ?? str(e.code),
    authenticationFailed: e.authenticationFailed === true,
    serverResponseCode: str(e.serverResponseCode),
    responseCode: typeof e.responseCode === 'number' ? e.responseCode : undefined,
  };
}

/**
 * One login attempt under an overall deadline: the clients' own timeouts do
 * not bound every phase (imapflow's socket timeout is 5 minutes).
 */
async function attemptLogin(protocol: 'imap' | 'smtp', connect: () => Promise<unknown>, close: () => void, timeoutMs: number): Promise<LoginResult> {
  try {
    await withDeadline(connect(), timeoutMs, close);
    return { ok: true };
  } catch (err) {
    return { ok: false, failure: classifyLoginFailure(facts(protocol, err)) };
  } finally {
    try {
      close();
    } catch {
      // already closed
    }
  }
}

/** Connect and greeting get most of the deadline; the rest is for the login itself. */
const phaseTimeout = (opts: LoginCheckOptions) => Math.max(500, Math.floor(opts.timeoutMs * 0.8));

/** Logs in to IMAP and out again (imapflow `verifyOnly`). Never throws. */
export async function checkImapLogin(target: LoginTarget, opts: LoginCheckOptions): Promise<LoginResult> {
  // Loaded on first use, so a server that only starts stays quick to start.
  const { ImapFlow } = await import('imapflow');
  const client = new ImapFlow({
    host: target.host,
    port: target.port,
    secure: target.port === 993,
    auth: { user: target.username, pass: target.password },
    logger: false,
    verifyOnly: true,
    disableAutoIdle: true,
    connectionTimeout: phaseTimeout(opts),
    greetingTimeout: phaseTimeout(opts),
    socketTimeout: opts.timeoutMs,
    tls: { rejectUnauthorized: opts.rejectUnauthorized ?? true },
  });
  client.on('error', () => {});
  return attemptLogin('imap', () => client.connect(), () => client.close(), opts.timeoutMs);
}

/** Logs in to SMTP (nodemailer `verify`). Never throws. */
export async function checkSmtpLogin(target: LoginTarget, opts: LoginCheckOptions): Promise<LoginResult> {
  const { default: nodemailer } = await import('nodemailer');
  const transport = nodemailer.createTransport({
    host: target.host,
    port: target.port,
    secure: target.port === 465,
    auth: { user: target.username, pass: target.password },
    connectionTimeout: phaseTimeout(opts),
    greetingTimeout: phaseTimeout(opts),
    socketTimeout: opts.timeoutMs,
    tls: { rejectUnauthorized: opts.rejectUnauthorized ?? true },
    logger: false,
    debug: false,
  });
  return attemptLogin('smtp', () => transport.verify(), () => transport.close(), opts.timeoutMs);
}
