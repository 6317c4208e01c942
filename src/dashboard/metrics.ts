import type { Queue } from 'bullmq';
import { Gauge, Registry } from 'prom-client';
import { cumulativeBuckets } from '../core/latency-buckets.js';
import type { Ledger } from '../queue/ledger.js';
import { readRunStatus } from '../run/run-status.js';

/**
 * Prometheus metrics of one run, read from Redis at scrape time, so they add
 * up across every worker process. Names follow Prometheus conventions; the
 * `queue` label tells runs apart.
 */
export function createMetrics(queue: Queue, ledger: Ledger): { contentType: string; render(): Promise<string> } {
  const registry = new Registry();
  const labels = { queue: queue.name };
  const jobs = new Gauge({ name: 'imap_grants_jobs', help: 'Jobs in the queue by state', labelNames: ['queue', 'state'], registers: [registry] });
  const rows = new Gauge({ name: 'imap_grants_rows', help: 'Rows by final outcome', labelNames: ['queue', 'outcome'], registers: [registry] });
  const dead = new Gauge({ name: 'imap_grants_dead_letters', help: 'Dead-lettered rows by error_type', labelNames: ['queue', 'error_type'], registers: [registry] });
  const retries = new Gauge({ name: 'imap_grants_retries', help: 'Attempts that failed transiently and were retried', labelNames: ['queue'], registers: [registry] });
  const limited = new Gauge({ name: 'imap_grants_rate_limited', help: '429 answers from the Nylas API', labelNames: ['queue'], registers: [registry] });
  const rate = new Gauge({ name: 'imap_grants_finish_rate', help: 'Rows reaching a final state per second, last minute', labelNames: ['queue'], registers: [registry] });

  return {
    contentType: registry.contentType,
    async render() {
      const [status, counts, metrics] = await Promise.all([readRunStatus(queue as never, ledger), queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'failed', 'completed'), ledger.metrics()]);
      jobs.reset();
      for (const [state, n] of Object.entries(counts)) jobs.set({ ...labels, state }, n);
      for (const outcome of ['granted', 'dead_lettered', 'rejected', 'expired'] as const) rows.set({ ...labels, outcome }, status[outcome]);
      dead.reset();
      for (const [error_type, n] of await ledger.errorTypes()) dead.set({ ...labels, error_type }, n);
      retries.set(labels, status.retries);
      limited.set(labels, status.rate_limited);
      rate.set(labels, status.rate_per_s);
      // The latency histogram is kept as bucket counters in Redis by the workers; prom-client's
      // Histogram only observes in-process values, so its exposition is written here.
      const q = JSON.stringify(queue.name);
      const hist = [
        '# HELP imap_grants_api_latency_seconds Latency of custom-auth calls to the Nylas API',
        '# TYPE imap_grants_api_latency_seconds histogram',
        ...cumulativeBuckets(metrics).map(([le, n]) => `imap_grants_api_latency_seconds_bucket{queue=${q},le="${le}"} ${n}`),
        `imap_grants_api_latency_seconds_sum{queue=${q}} ${(metrics.latency_sum_ms ?? 0) / 1000}`,
        `imap_grants_api_latency_seconds_count{queue=${q}} ${metrics.latency_count ?? 0}`,
      ];
      return `${await registry.metrics()}\n${hist.join('\n')}\n`;
    },
  };
}
