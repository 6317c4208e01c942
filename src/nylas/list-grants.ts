import { setTimeout as sleep } from 'node:timers/promises';
import pRetry from 'p-retry';
import { rateLimitPauseMs } from '../core/backoff.js';
import { classifyApiError } from '../core/classify-api-error.js';
import type { ExistingGrant } from '../core/reconcile-plan.js';
import { shouldRetryApiCall } from './retry-transient.js';
import type { NylasClient } from './sdk.js';

const PAGE = 200;

/**
 * Every IMAP grant of the application. `/v3/grants` pages by offset only and
 * sends no cursor, so pages are walked by hand until one comes back short.
 * 429s wait (Retry-After when given); transient failures are retried.
 */
export async function* listImapGrants(nylas: NylasClient): AsyncGenerator<ExistingGrant> {
  for (let offset = 0; ; offset += PAGE) {
    let limited = 0;
    const page = await pRetry(
      async () => {
        try {
          return await nylas.grants.list({ queryParams: { provider: 'imap', limit: PAGE, offset } as never });
        } catch (e) {
          const f = classifyApiError(e);
          if (f.type === 'rate_limited') {
            await sleep(rateLimitPauseMs(f.retryAfterMs, ++limited, 1000));
          }
          throw e;
        }
      },
      {
        retries: 8,
        minTimeout: 500,
        shouldRetry: shouldRetryApiCall,
      },
    );
    for (const g of page.data) {
      if (g.email) yield { id: g.id, email: g.email, grantStatus: g.grantStatus ?? 'valid' };
    }
    if (page.data.length < PAGE) return;
  }
}
