import { resolveSettings, type SettingName, type SettingValue } from '../config/settings.js';
import type { RowDefaults } from '../core/validate-row.js';
import { ephemeralKeyRing, loadKeyRing, requireKeyRing, type KeyRing } from '../crypto/key-ring.js';
import type { Logger } from '../log.js';
import type { RunPipelineOptions } from '../run/run-pipeline.js';
import type { WorkerConfig } from '../worker/start-worker.js';

export const CONNECTION_SETTINGS = ['redisUrl', 'queue', 'logLevel'] as const satisfies readonly SettingName[];
export const API_SETTINGS = ['apiKey', 'apiUri', 'apiTimeout'] as const satisfies readonly SettingName[];
export const WORKER_SETTINGS = ['concurrency', 'perHostConcurrency', 'breakerCooldown', 'hostOutageLimit', 'rate', 'maxAttempts', 'backoff', 'credentialTtl'] as const satisfies readonly SettingName[];
export const ROW_DEFAULT_SETTINGS = ['imapHost', 'imapPort', 'smtpHost', 'smtpPort'] as const satisfies readonly SettingName[];
export const KEY_SETTINGS = ['key'] as const satisfies readonly SettingName[];

export function rowDefaults(s: { [K in (typeof ROW_DEFAULT_SETTINGS)[number]]?: SettingValue<K> }): RowDefaults {
  return { imapHost: s.imapHost, imapPort: s.imapPort, smtpHost: s.smtpHost, smtpPort: s.smtpPort };
}

export function workerConfig(s: { [K in (typeof WORKER_SETTINGS)[number] | 'apiTimeout']: SettingValue<K> }): WorkerConfig {
  return {
    concurrency: s.concurrency,
    perHostConcurrency: s.perHostConcurrency,
    breakerCooldownMs: s.breakerCooldown,
    hostOutageLimitMs: s.hostOutageLimit,
    rate: s.rate,
    maxAttempts: s.maxAttempts,
    backoffMs: s.backoff,
    credentialTtlMs: s.credentialTtl,
    apiTimeoutS: s.apiTimeout,
  };
}

/** The key ring; a run in one process may fall back to a key held only in memory. */
export function keyRingFor(
  opts: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  mode: { command: string; allowEphemeral: boolean; log?: Logger },
): KeyRing {
  const { key: keyFile } = resolveSettings(KEY_SETTINGS, opts, env);
  const sources = { key: env.IMAP_GRANTS_KEY, keyFile, previousKeys: env.IMAP_GRANTS_PREVIOUS_KEYS };
  if (!mode.allowEphemeral) return requireKeyRing(sources, mode.command);
  const ring = loadKeyRing(sources);
  if (ring) return ring;
  mode.log?.info(
    { event: 'key:ephemeral' },
    'no IMAP_GRANTS_KEY set: credentials in Redis are sealed with a temporary key held only in this process\'s memory',
  );
  return ephemeralKeyRing();
}

type PipelineSettings = { [K in (typeof CONNECTION_SETTINGS | typeof API_SETTINGS | typeof WORKER_SETTINGS | typeof ROW_DEFAULT_SETTINGS)[number]]?: SettingValue<K> } & {
  queue: string;
  redisUrl: string;
  apiKey: string;
  apiUri: string;
} & { [K in (typeof WORKER_SETTINGS)[number] | 'apiTimeout']: SettingValue<K> };

/** The options `run`, `reconcile` and a scheduled reconciliation all pass to the pipeline. */
export function pipelineOptions(
  s: PipelineSettings,
  run: { csvPath: string; outDir: string; ring: KeyRing; log: Logger; signal: AbortSignal; reset?: boolean },
): Omit<RunPipelineOptions, 'plan' | 'onRow' | 'lockLabel' | 'lockHeld'> {
  return {
    csvPath: run.csvPath,
    outDir: run.outDir,
    queueName: s.queue,
    redisUrl: s.redisUrl,
    apiKey: s.apiKey,
    apiUri: s.apiUri,
    worker: workerConfig(s),
    defaults: rowDefaults(s),
    ring: run.ring,
    log: run.log,
    reset: run.reset === true,
    signal: run.signal,
  };
}
