/**
 * The sandbox's `--faults` mix: a seeded, repeatable choice of a fault for
 * each request, so benchmarks and fault tests drive every error path the same
 * way on every run.
 *
 * Spec grammar: `kind:probability[,kind:probability…]`, e.g.
 * `504:0.1,429:0.05,502html:0.02,reset:0.01,hang:0.01`.
 */

export const FAULT_KINDS = {
  '500': 'JSON 500 api.internal_error',
  '502': 'JSON 502 bad gateway',
  '503': 'JSON 503 service unavailable',
  '504': 'JSON 504 provider_error "Provider request timed out."',
  '429': 'JSON 429 nylas_rate_limit_exceeded, no Retry-After (Nylas\'s own limit)',
  '429ra': 'JSON 429 rate_limit_error with provider_error and Retry-After: 1 (provider throttling)',
  '502html': 'HTML 502 from a gateway (the SDK throws a plain Error)',
  reset: 'connection reset before any answer (the SDK throws TypeError: fetch failed)',
  hang: 'no answer at all (the SDK throws NylasSdkTimeoutError)',
} as const;

export type FaultKind = keyof typeof FAULT_KINDS;

export interface FaultShare {
  kind: FaultKind;
  probability: number;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

export function parseFaultMix(spec: string): ParseResult<FaultShare[]> {
  const shares: FaultShare[] = [];
  if (spec.trim() === '') return { ok: true, value: shares };
  let total = 0;
  for (const part of spec.split(',')) {
    const [kind, p, ...rest] = part.trim().split(':');
    if (kind === undefined || p === undefined || rest.length > 0) {
      return { ok: false, error: `--faults: expected "kind:probability", got "${part.trim()}"` };
    }
    if (!(kind in FAULT_KINDS)) {
      return {
        ok: false,
        error: `--faults: unknown fault "${kind}"; expected one of ${Object.keys(FAULT_KINDS).join(', ')}`,
      };
    }
    const probability = Number(p);
    if (!Number.isFinite(probability) || probability < 0 || probability > 1) {
      return { ok: false, error: `--faults: probability for "${kind}" must be a number from 0 to 1, got "${p}"` };
    }
    total += probability;
    shares.push({ kind: kind as FaultKind, probability });
  }
  if (total > 1 + 1e-9) {
    return { ok: false, error: `--faults: probabilities add up to ${total.toFixed(3)}, which is more than 1` };
  }
  return { ok: true, value: shares };
}

/** mulberry32: tiny, fast and good enough to make fault sequences repeatable. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Picks the fault for one request, or `undefined` for a normal answer. */
export function pickFault(shares: readonly FaultShare[], roll: number): FaultKind | undefined {
  let edge = 0;
  for (const share of shares) {
    edge += share.probability;
    if (roll < edge) return share.kind;
  }
  return undefined;
}
