import { createHash } from 'node:crypto';
import type { Job } from 'bullmq';

export const JOB_NAME = 'grant';
/** BullMQ key prefix: every key of a run sits under `imap-grants:<queue>:`. */
export const PREFIX = 'imap-grants';

/**
 * What a job carries. Everything but `sealed` is non-secret and is what the
 * reports need; `sealed` holds the encrypted username and passwords and is
 * removed once the job reaches a final state.
 */
export interface GrantJobData {
  v: 1;
  line: number;
  email: string;
  imapHost?: string;
  imapPort?: number;
  smtpHost?: string;
  smtpPort?: number;
  sealed?: string;
  warnings?: string[];
  /** Set by reconciliation: the grant this job re-authenticates. */
  grantId?: string;
}

/**
 * The job id of a mailbox: a hash of its lower-cased email. Deterministic, so
 * importing the same mailbox twice cannot make two jobs; free of `:`, which
 * BullMQ refuses; and not all digits.
 */
export function jobIdFor(email: string): string {
  return `m-${createHash('sha256').update(email.trim().toLowerCase()).digest('hex').slice(0, 32)}`;
}

/** Associated data binding sealed credentials to one job of one queue. */
export const sealBinding = (queue: string, jobId: string) => `${queue}/${jobId}`;

/** The non-secret fields every outcome record of a job carries. */
export function outcomeFields(d: GrantJobData): { line: number; email: string; imap_host?: string; warnings?: string } {
  return {
    line: d.line,
    email: d.email,
    ...(d.imapHost ? { imap_host: d.imapHost } : {}),
    ...(d.warnings?.length ? { warnings: d.warnings.join('; ') } : {}),
  };
}

/** Drops a job's sealed credentials, keeping what the dead-letter report needs. */
export async function scrubCredentials(job: Job<GrantJobData>): Promise<void> {
  if (job.data.sealed === undefined) return;
  const { sealed: _dropped, ...rest } = job.data;
  await job.updateData(rest as GrantJobData);
}
