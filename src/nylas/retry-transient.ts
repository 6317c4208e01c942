import { classifyApiError } from '../core/classify-api-error.js';
import { ApiKeyRefusedError } from '../worker/ensure-connector.js';

/**
 * p-retry's `shouldRetry` for the few calls a run makes outside jobs (the
 * connector check, the grant list): retry what is transient, stop at once
 * on a refused API key, give up on anything else.
 */
export function shouldRetryApiCall({ error }: { error: unknown }): boolean {
  const failure = classifyApiError(error);
  if (failure.type === 'api_key_refused') throw new ApiKeyRefusedError(failure);
  return failure.type === 'provider_not_responding' || failure.type === 'rate_limited';
}
