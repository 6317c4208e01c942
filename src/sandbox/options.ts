import type { Logger } from 'pino';
import type { FaultShare } from '../core/fault-mix.js';

export interface SandboxOptions {
  port: number;
  host: string;
  apiKey: string;
  /** Requests per second per application (sliding window). Nylas allows 50. */
  rate: number;
  /** Every API answer takes at least this long (a custom auth's login runs within it). */
  latencyMs: number;
  faults: FaultShare[];
  seed: number;
  /** Deadline for one IMAP or SMTP login before answering 504. */
  providerTimeoutMs: number;
  /** Failed logins per email before `auth_limit_reached`, and their window. */
  authLimitMax: number;
  authLimitWindowMs: number;
  /** Custom auth answers 400 until an IMAP connector exists, as we assume Nylas does. */
  requireConnector: boolean;
  /** Verify mail servers' TLS certificates. */
  rejectUnauthorized: boolean;
  logger?: Logger;
}

export const SANDBOX_DEFAULTS: Omit<SandboxOptions, 'apiKey'> = {
  port: 4100,
  host: '127.0.0.1',
  rate: 50,
  latencyMs: 0,
  faults: [],
  seed: 1,
  providerTimeoutMs: 10_000,
  authLimitMax: 3,
  authLimitWindowMs: 15 * 60 * 1000,
  requireConnector: true,
  rejectUnauthorized: true,
};
