import pRetry from 'p-retry';
import { classifyApiError } from '../core/classify-api-error.js';
import type { Logger } from '../log.js';
import { shouldRetryApiCall } from '../nylas/retry-transient.js';
import type { NylasClient } from '../nylas/sdk.js';
import type { Failure } from '../types.js';

export class ApiKeyRefusedError extends Error {
  override name = 'ApiKeyRefusedError';
  constructor(readonly failure: Failure) {
    super(
      `the Nylas API refused the API key (${failure.httpStatus ?? '?'} ${failure.apiType ?? failure.type}${failure.requestId ? `, request ${failure.requestId}` : ''}); check NYLAS_API_KEY and NYLAS_API_URI`,
    );
  }
}

/** The API could not be reached, or kept failing, while preparing the run. */
export class ApiUnavailableError extends Error {
  override name = 'ApiUnavailableError';
}

const statusOf = (e: unknown) => (e as { statusCode?: number }).statusCode;

/**
 * Makes sure the application has an IMAP connector, once, at worker start:
 * find it; on 404 create it; if the create fails, another process may have
 * created it in the meantime, so look again. Transient failures are retried;
 * a refused API key ends at once.
 */
export async function ensureImapConnector(nylas: NylasClient, log: Logger): Promise<void> {
  await pRetry(
    async () => {
      try {
        await nylas.connectors.find({ provider: 'imap' });
        return;
      } catch (e) {
        if (statusOf(e) !== 404) throw e;
      }
      try {
        await nylas.connectors.create({ requestBody: { provider: 'imap', name: 'imap-grants' } as never });
        log.info({ event: 'connector:created' }, 'created the IMAP connector');
      } catch (createError) {
        try {
          await nylas.connectors.find({ provider: 'imap' });
          log.info({ event: 'connector:created-elsewhere' }, 'the IMAP connector was created by another process');
        } catch {
          throw createError;
        }
      }
    },
    {
      retries: 4,
      minTimeout: 500,
      shouldRetry: shouldRetryApiCall,
    },
  ).catch((e: unknown) => {
    if (e instanceof ApiKeyRefusedError) throw e;
    const failure = classifyApiError(e);
    if (failure.type === 'api_key_refused') throw new ApiKeyRefusedError(failure);
    throw new ApiUnavailableError(`cannot reach the Nylas API to check the IMAP connector: ${failure.httpStatus ? `${failure.httpStatus} ` : ''}${failure.message}; check NYLAS_API_URI and the network`);
  });
}
