/**
 * Shared vocabulary of imap-grants.
 *
 * Terminology
 * - **row**: one data line of the input CSV, identified by its physical line
 *   number (the header is line 1). A row is either accepted (it becomes a job)
 *   or rejected (it fails validation and never reaches Redis).
 * - **run**: everything that happens to one CSV in one queue: import, work,
 *   report. A queue name (`--queue`) identifies the run; two runs never share
 *   a queue.
 * - **job**: the BullMQ job for one accepted row. Its id is derived from the
 *   lower-cased email, so importing the same mailbox twice cannot make two
 *   jobs. Its credentials are encrypted (see `crypto/credential-box.ts`).
 * - **grant**: the Nylas object that a successful custom authentication
 *   creates or re-authenticates. One grant per email per application.
 * - **attempt**: one call to the Nylas API for a job that may fail and be
 *   retried. 429s and interruptions do not spend attempts.
 * - **dead letter**: a job that reached a final failure. It is written to the
 *   dead-letter report with a reason a team can act on; its credentials are
 *   scrubbed from Redis.
 * - **outcome**: the one final state of a row: `granted`, `dead_lettered`,
 *   `rejected` or `expired`.
 * - **ledger**: the compact, non-secret record of outcomes kept in Redis per
 *   run, from which every report is written. It is shared by every process of
 *   the run, so counts stay right with many workers.
 * - **reconciliation**: comparing the CSV (desired state) with the grants
 *   that exist and doing only what is missing.
 */

/** Settings for one mailbox as the CSV gives them, after validation. */
export interface MailboxSettings {
  imapHost?: string;
  imapPort?: number;
  smtpHost?: string;
  smtpPort?: number;
}

/** The secret part of a row. It only ever exists in memory or encrypted. */
export interface MailboxSecrets {
  imapUsername: string;
  imapPassword: string;
  smtpUsername?: string;
  smtpPassword?: string;
}

/** An accepted row: what the importer turns into a job. */
export interface AcceptedRow {
  line: number;
  email: string;
  settings: MailboxSettings;
  secrets: MailboxSecrets;
  warnings: string[];
}

/** A row that failed validation. `reason` names the field. */
export interface RejectedRow {
  line: number;
  email: string;
  reason: string;
}

/**
 * The error vocabulary of the Nylas API as the worker sees it. It mirrors the
 * API's `error.type` families; the retry policy is a lookup on `type`.
 */
export type FailureType =
  | 'invalid_authentication'
  | 'auth_limit_reached'
  | 'provider_not_responding'
  | 'rate_limited'
  | 'api_key_refused'
  | 'request_rejected'
  | 'credentials_unreadable'
  | 'expired';

export interface Failure {
  type: FailureType;
  /** HTTP status when the API answered; absent for network errors and timeouts. */
  httpStatus?: number;
  /** The API's own `error.type`, e.g. `grant.invalid_authentication`. */
  apiType?: string;
  message: string;
  requestId?: string;
  /** From a `Retry-After` header, when one was sent. */
  retryAfterMs?: number;
}

export type Outcome = 'granted' | 'dead_lettered' | 'rejected' | 'expired';
