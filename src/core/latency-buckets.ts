/** Upper bounds (seconds) of the API latency histogram, as Prometheus expects them. */
export const LATENCY_BUCKETS_S = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 90] as const;

/** The counter fields one API call adds: its bucket, the sum and the count. */
export function latencyFields(ms: number): Record<string, number> {
  const s = ms / 1000;
  const le = LATENCY_BUCKETS_S.find((b) => s <= b);
  return { [`latency_le:${le ?? '+Inf'}`]: 1, latency_sum_ms: Math.round(ms), latency_count: 1 };
}

/** Per-bucket counts → cumulative counts per `le`, ending with +Inf = total. */
export function cumulativeBuckets(metrics: Record<string, number>): Array<[string, number]> {
  let running = 0;
  const out: Array<[string, number]> = [];
  for (const b of LATENCY_BUCKETS_S) {
    running += metrics[`latency_le:${b}`] ?? 0;
    out.push([String(b), running]);
  }
  out.push(['+Inf', running + (metrics['latency_le:+Inf'] ?? 0)]);
  return out;
}
