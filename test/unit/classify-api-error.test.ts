import { describe, expect, it } from 'vitest';
import { NylasApiError, NylasSdkTimeoutError } from 'nylas';
import { classifyApiError, RETRY_POLICY } from '../../src/core/classify-api-error.js';

const apiError = (status: number, type: string, headers: Record<string, string> = {}, providerError?: unknown) =>
  new NylasApiError({ requestId: 'body-id', error: { type, message: `msg ${type}`, providerError } } as never, status, 'hdr-id', undefined, headers);

// Each row is a real SDK error object, as the SDK would throw it.
const cases: Array<{ name: string; err: unknown; type: string; action: string; status?: number; retryAfterMs?: number }> = [
  { name: 'wrong password (grant.invalid_authentication)', err: apiError(400, 'grant.invalid_authentication'), type: 'invalid_authentication', action: 'dead_letter', status: 400 },
  { name: 'wrong password, bare type', err: apiError(401, 'invalid_authentication'), type: 'invalid_authentication', action: 'dead_letter', status: 401 },
  { name: 'lockout', err: apiError(400, 'grant.auth_limit_reached'), type: 'auth_limit_reached', action: 'dead_letter' },
  { name: 'lockout sent as 429 is still a lockout', err: apiError(429, 'auth_limit_reached'), type: 'auth_limit_reached', action: 'dead_letter' },
  { name: '504 provider_error', err: apiError(504, 'provider_error'), type: 'provider_not_responding', action: 'retry', status: 504 },
  { name: '500 internal', err: apiError(500, 'api.internal_error'), type: 'provider_not_responding', action: 'retry' },
  { name: '503', err: apiError(503, 'service_unavailable'), type: 'provider_not_responding', action: 'retry' },
  { name: 'provider_error with a 4xx status', err: apiError(424, 'provider_error'), type: 'provider_not_responding', action: 'retry' },
  { name: 'SDK timeout', err: new NylasSdkTimeoutError('http://x/v3/connect/custom', 90), type: 'provider_not_responding', action: 'retry' },
  { name: 'connection reset', err: Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNRESET' } }), type: 'provider_not_responding', action: 'retry' },
  {
    name: 'gateway HTML page',
    err: new Error('Received an error but could not parse response from the server: <html>502 Bad Gateway</html>'),
    type: 'provider_not_responding',
    action: 'retry',
  },
  { name: '429 with Retry-After', err: apiError(429, 'rate_limit_error', { 'retry-after': '7' }), type: 'rate_limited', action: 'pause_all', retryAfterMs: 7000 },
  { name: '429 without Retry-After', err: apiError(429, 'nylas_rate_limit_exceeded'), type: 'rate_limited', action: 'pause_all' },
  { name: 'API key refused', err: apiError(401, 'token.unauthorized_access'), type: 'api_key_refused', action: 'halt_run', status: 401 },
  { name: 'any other 401', err: apiError(401, 'invalid_request_error'), type: 'api_key_refused', action: 'halt_run' },
  { name: 'other 4xx', err: apiError(400, 'invalid_request_error'), type: 'request_rejected', action: 'dead_letter' },
  { name: '404', err: apiError(404, 'not_found_error'), type: 'request_rejected', action: 'dead_letter' },
];

describe('classifyApiError', () => {
  it.each(cases)('$name → $type ($action)', ({ err, type, action, status, retryAfterMs }) => {
    const f = classifyApiError(err);
    expect(f.type).toBe(type);
    expect(RETRY_POLICY[f.type]).toBe(action);
    if (status !== undefined) expect(f.httpStatus).toBe(status);
    if (retryAfterMs !== undefined) expect(f.retryAfterMs).toBe(retryAfterMs);
  });

  it('takes the request id from the header, as the SDK does', () => {
    expect(classifyApiError(apiError(400, 'grant.invalid_authentication')).requestId).toBe('hdr-id');
  });

  it('adds the provider detail to the message', () => {
    const f = classifyApiError(apiError(504, 'provider_error', {}, { detail: 'IMAP connection refused' }));
    expect(f.message).toContain('IMAP connection refused');
  });
});
