/**
 * Exponential backoff with full jitter: the delay before retry n (n ≥ 1) is
 * drawn uniformly from [0, min(cap, base·2^(n-1))). Full jitter spreads a
 * burst of failures out, so a recovering API is not hit by all of them again
 * at the same moment.
 */
export function backoffDelayMs(retry: number, baseMs: number, capMs = 5 * 60_000, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * ceiling);
}

/** How long every worker pauses after a 429: Retry-After when given, otherwise a jittered backoff. */
export function rateLimitPauseMs(retryAfterMs: number | undefined, consecutive: number, baseMs: number, random: () => number = Math.random): number {
  if (retryAfterMs !== undefined) return Math.max(1, Math.ceil(retryAfterMs));
  return Math.max(250, backoffDelayMs(consecutive, Math.max(baseMs, 500), 30_000, random));
}
