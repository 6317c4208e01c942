import type { Failure, FailureType } from '../types.js';

/**
 * Turns whatever the `nylas` SDK threw into our failure vocabulary. It looks
 * at the shape of the error, not its class, so it works on errors from any
 * copy of the SDK and is testable with plain objects:
 * - `NylasApiError`: `statusCode`, `type`, `requestId`, `headers`;
 * - `NylasSdkTimeoutError`: `name` and a numeric `timeout`;
 * - a plain `Error` "Received an error but could not parse…" for non-JSON answers;
 * - `TypeError: fetch failed` for network errors.
 */
export function classifyApiError(err: unknown): Failure {
  const e = (err ?? {}) as Record<string, unknown>;
  const provider = (e.providerError ?? undefined) as Record<string, unknown> | undefined;
  const providerDetail = typeof provider?.detail === 'string' ? provider.detail : typeof provider?.message === 'string' ? provider.message : undefined;
  const baseMessage = typeof e.message === 'string' ? e.message : String(err);
  // The provider's own words say what to fix ("connection refused", "wrong password").
  const message = providerDetail && !baseMessage.includes(providerDetail) ? `${baseMessage} (${providerDetail})` : baseMessage;
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const apiType = typeof e.type === 'string' ? e.type : undefined;
  const requestId = typeof e.requestId === 'string' && e.requestId !== '' ? e.requestId : undefined;
  const headers = (e.headers ?? {}) as Record<string, string | undefined>;
  const base = { httpStatus: status, apiType, requestId };
  const make = (type: FailureType, msg: string, extra: Partial<Failure> = {}): Failure => ({ type, message: msg, ...base, ...extra });

  if (status === undefined) {
    if (e.name === 'NylasSdkTimeoutError' || typeof e.timeout === 'number') {
      return make('provider_not_responding', 'no answer from the Nylas API before the SDK timeout');
    }
    if (err instanceof TypeError || /fetch failed|ECONNRESET|ECONNREFUSED|socket hang up|network/i.test(message)) {
      const c = e.cause as { code?: string; message?: string } | undefined;
      const cause = c?.code ?? c?.message;
      return make('provider_not_responding', `network error talking to the Nylas API${cause ? ` (${cause})` : ''}`);
    }
    if (/could not parse response/i.test(message)) {
      return make('provider_not_responding', 'a gateway answered with a non-JSON error page');
    }
    return make('provider_not_responding', `unexpected error calling the Nylas API: ${message.slice(0, 200)}`);
  }

  const t = (apiType ?? '').toLowerCase();
  if (t.includes('auth_limit_reached')) return make('auth_limit_reached', message);
  if (t.includes('invalid_authentication')) return make('invalid_authentication', message);
  if (status === 429) {
    const ra = Number(headers['retry-after']);
    return make('rate_limited', message, Number.isFinite(ra) && ra >= 0 ? { retryAfterMs: ra * 1000 } : {});
  }
  if (status === 401 || t.includes('unauthorized_access') || t === 'api.authentication_error' || t === 'authentication_error') {
    return make('api_key_refused', message);
  }
  if (status >= 500 || t.includes('provider_error')) return make('provider_not_responding', message);
  return make('request_rejected', message);
}

/** What the worker does with each failure type. One table, no scattered ifs. */
export type Action = 'retry' | 'dead_letter' | 'pause_all' | 'halt_run';

export const RETRY_POLICY: Record<FailureType, Action> = {
  provider_not_responding: 'retry',
  rate_limited: 'pause_all',
  api_key_refused: 'halt_run',
  // A wrong password retried is a locked mailbox: never retry these.
  invalid_authentication: 'dead_letter',
  auth_limit_reached: 'dead_letter',
  request_rejected: 'dead_letter',
  credentials_unreadable: 'dead_letter',
  expired: 'dead_letter',
};
