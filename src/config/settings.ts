import { z } from 'zod';

/**
 * Every setting of imap-grants, once: its flag, its environment variable, its
 * default and what it means. Commands declare their flags from this table and
 * read their values through `resolveSettings`, so a setting is parsed and
 * checked in one place and the README table can be generated from here.
 */
export interface SettingSpec<T> {
  flag: string;
  /** Placeholder shown in --help, e.g. `<n>`; absent for boolean switches. */
  arg?: string;
  env?: string;
  description: string;
  /** The raw default, parsed like any other input; `undefined` means "none". */
  default?: string | number;
  schema: z.ZodType<T, unknown>;
  /** Masked in --help and config echo (API key, encryption key). */
  secret?: boolean;
}

const intIn = (min: number, max: number) =>
  z.coerce
    .number({ error: `expected an integer from ${min} to ${max}` })
    .refine((n) => Number.isInteger(n) && n >= min && n <= max, `expected an integer from ${min} to ${max}`);

const hostname = z
  .string()
  .regex(/^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$|^\[?[0-9a-fA-F:.]+\]?$/, 'expected a host name or IP address');

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
/** `90s`, `15m`, `12h`, `7d` → milliseconds. */
const duration = z
  .string()
  .regex(/^\d+[smhd]$/, 'expected a duration such as 90s, 15m, 12h or 7d')
  .transform((v) => Number(v.slice(0, -1)) * UNIT_MS[v.slice(-1) as keyof typeof UNIT_MS])
  .refine((ms) => ms >= 1000, 'expected at least 1s');

const spec = <T>(s: SettingSpec<T>) => s;

export const SETTINGS = {
  redisUrl: spec({
    flag: '--redis-url',
    arg: '<url>',
    env: 'REDIS_URL',
    description: 'Redis shared by every process of a run (rediss:// for TLS)',
    default: 'redis://127.0.0.1:6379',
    schema: z.string().regex(/^rediss?:\/\//, 'expected a redis:// or rediss:// URL'),
  }),
  queue: spec({
    flag: '--queue',
    arg: '<name>',
    env: 'IMAP_GRANTS_QUEUE',
    description: 'queue name; keeps runs apart from each other',
    default: 'imap-grants',
    schema: z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/, 'expected letters, digits, "_", "." or "-" (no ":")'),
  }),
  apiKey: spec({
    flag: '--api-key',
    arg: '<key>',
    env: 'NYLAS_API_KEY',
    description: 'Nylas application API key',
    schema: z.string().min(1, 'expected a non-empty API key'),
    secret: true,
  }),
  apiUri: spec({
    flag: '--api-uri',
    arg: '<url>',
    env: 'NYLAS_API_URI',
    description: 'Nylas API base URL, without a trailing slash',
    default: 'https://api.us.nylas.com',
    schema: z
      .string()
      .regex(/^https?:\/\/[^/]+(\/.*[^/])?$/, 'expected an http(s) URL without a trailing slash, e.g. https://api.eu.nylas.com'),
  }),
  clientId: spec({
    flag: '--client-id',
    arg: '<id>',
    env: 'NYLAS_CLIENT_ID',
    description: 'Nylas application client id, for hosted-auth invites',
    schema: z.string().min(1, 'expected the application client id'),
  }),
  apiTimeout: spec({
    flag: '--api-timeout',
    arg: '<seconds>',
    env: 'IMAP_GRANTS_API_TIMEOUT',
    description: 'seconds to wait for one Nylas answer before counting it as provider_not_responding',
    default: 90,
    schema: intIn(1, 999),
  }),
  concurrency: spec({
    flag: '--concurrency',
    arg: '<n>',
    env: 'IMAP_GRANTS_CONCURRENCY',
    description: 'jobs in flight per worker process',
    default: 20,
    schema: intIn(1, 1000),
  }),
  perHostConcurrency: spec({
    flag: '--per-host-concurrency',
    arg: '<n>',
    env: 'IMAP_GRANTS_PER_HOST_CONCURRENCY',
    description: 'logins in flight per IMAP host, across all workers',
    default: 10,
    schema: intIn(1, 1000),
  }),
  breakerCooldown: spec({
    flag: '--breaker-cooldown',
    arg: '<duration>',
    env: 'IMAP_GRANTS_BREAKER_COOLDOWN',
    description: 'while a host\'s circuit breaker is open, how often one probe job tests it',
    default: '30s',
    schema: duration,
  }),
  hostOutageLimit: spec({
    flag: '--host-outage-limit',
    arg: '<duration>',
    env: 'IMAP_GRANTS_HOST_OUTAGE_LIMIT',
    description: 'how long a host\'s jobs wait for it to come back before they are tried and dead-lettered as usual',
    default: '2h',
    schema: duration,
  }),
  rate: spec({
    flag: '--rate',
    arg: '<n>',
    env: 'IMAP_GRANTS_RATE',
    description: 'custom-auth requests per second across all workers (Nylas allows 50)',
    default: 25,
    schema: intIn(1, 10_000),
  }),
  maxAttempts: spec({
    flag: '--max-attempts',
    arg: '<n>',
    env: 'IMAP_GRANTS_MAX_ATTEMPTS',
    description: 'attempts for provider_not_responding before a row is dead-lettered',
    default: 6,
    schema: intIn(1, 100),
  }),
  backoff: spec({
    flag: '--backoff',
    arg: '<ms>',
    env: 'IMAP_GRANTS_BACKOFF_MS',
    description: 'base delay of the exponential backoff (full jitter)',
    default: 1000,
    schema: intIn(0, 3_600_000),
  }),
  highWater: spec({
    flag: '--high-water',
    arg: '<jobs>',
    env: 'IMAP_GRANTS_HIGH_WATER',
    description: 'the import waits while more jobs than this are queued (keeps Redis memory bounded; 0: never wait)',
    default: 200_000,
    schema: intIn(0, 100_000_000),
  }),
  imapHost: spec({
    flag: '--imap-host',
    arg: '<host>',
    env: 'IMAP_GRANTS_IMAP_HOST',
    description: 'IMAP host for rows that have none (blank: Nylas detects it)',
    schema: hostname,
  }),
  imapPort: spec({
    flag: '--imap-port',
    arg: '<port>',
    env: 'IMAP_GRANTS_IMAP_PORT',
    description: 'IMAP port for rows that have none',
    default: 993,
    schema: intIn(1, 65535),
  }),
  smtpHost: spec({
    flag: '--smtp-host',
    arg: '<host>',
    env: 'IMAP_GRANTS_SMTP_HOST',
    description: 'SMTP host for rows that have none (blank: Nylas detects it)',
    schema: hostname,
  }),
  smtpPort: spec({
    flag: '--smtp-port',
    arg: '<port>',
    env: 'IMAP_GRANTS_SMTP_PORT',
    description: 'SMTP port for rows that have none',
    default: 465,
    schema: intIn(1, 65535),
  }),
  key: spec({
    flag: '--key-file',
    arg: '<path>',
    env: 'IMAP_GRANTS_KEY_FILE',
    description: 'file holding the encryption key (32 bytes, base64); IMAP_GRANTS_KEY may hold it directly',
    schema: z.string().min(1),
  }),
  credentialTtl: spec({
    flag: '--credential-ttl',
    arg: '<duration>',
    env: 'IMAP_GRANTS_CREDENTIAL_TTL',
    description: 'how long an unprocessed credential may wait in Redis before it is purged and its row reported as expired (e.g. 7d, 12h, 90m)',
    default: '7d',
    schema: duration,
  }),
  logLevel: spec({
    flag: '--log-level',
    arg: '<level>',
    env: 'LOG_LEVEL',
    description: 'pino log level',
    default: 'info',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  }),
} as const;

export type SettingName = keyof typeof SETTINGS;
export type SettingValue<K extends SettingName> = (typeof SETTINGS)[K] extends SettingSpec<infer T> ? T : never;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** `abcd…wxyz` → `…wxyz`: enough to tell keys apart, never enough to use one. */
export function maskSecret(value: string): string {
  return value.length <= 4 ? '****' : `****${value.slice(-4)}`;
}

/** camelCase option name commander derives from a flag. */
export function optionKey(flag: string): string {
  return flag.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Reads the named settings from command options, then the environment, then
 * the defaults, and checks each against its schema. All problems are reported
 * together, each naming the flag and variable, what was expected and what arrived.
 */
export function resolveSettings<K extends SettingName>(
  names: readonly K[],
  options: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  required: readonly K[] = [],
): { [P in K]: SettingValue<P> } {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const name of names) {
    const s = SETTINGS[name] as SettingSpec<unknown>;
    const fromFlag = options[optionKey(s.flag)];
    const fromEnv = s.env ? env[s.env] : undefined;
    const raw = fromFlag ?? (fromEnv === '' ? undefined : fromEnv) ?? s.default;
    const where = s.env ? `${s.flag} (${s.env})` : s.flag;
    if (raw === undefined) {
      if (required.includes(name)) problems.push(`${where} is required: ${s.description}`);
      continue;
    }
    const parsed = s.schema.safeParse(raw);
    if (!parsed.success) {
      const shown = s.secret ? maskSecret(String(raw)) : JSON.stringify(raw);
      problems.push(`${where}: ${parsed.error.issues[0]?.message ?? 'invalid value'}, got ${shown}`);
      continue;
    }
    out[name] = parsed.data;
  }
  if (problems.length > 0) throw new ConfigError(problems.join('\n'));
  return out as { [P in K]: SettingValue<P> };
}
