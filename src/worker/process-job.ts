/**
 * The job processor: one custom authentication per job.
 *
 * Lifecycle of a job (one call of the processor is one attempt):
 * 1. already final in the ledger (a crash after recording): complete, no API call;
 * 2. older than the credential TTL: reported `expired`, credentials dropped;
 * 3. credentials do not open: dead-lettered `credentials_unreadable`;
 * 4. pass the call gate (a 429 pause, the pace, a slot on its IMAP host, its
 *    circuit breaker); a job that cannot go soon is delayed without spending an attempt;
 * 5. call Nylas. Success: `granted`. Failure: classified, then one of
 *    - retry: throw, BullMQ re-queues it after the backoff (spends an attempt);
 *    - pause_all: 429, every worker pauses (no attempt spent);
 *    - halt_run: the API key was refused, the queue is paused for everyone;
 *    - dead_letter: recorded with its reason, credentials scrubbed, never retried.
 */
import { DelayedError, RateLimitError, UnrecoverableError, type Job, type Queue } from 'bullmq';
import { rateLimitPauseMs } from '../core/backoff.js';
import { classifyApiError, RETRY_POLICY } from '../core/classify-api-error.js';
import { latencyFields } from '../core/latency-buckets.js';
import { clip, redactText } from '../core/redact.js';
import { CredentialsUnreadableError, openSecrets, passwordFingerprint } from '../crypto/credential-box.js';
import type { KeyRing } from '../crypto/key-ring.js';
import type { Logger } from '../log.js';
import type { NylasClient } from '../nylas/sdk.js';
import { outcomeFields, scrubCredentials, sealBinding, type GrantJobData } from '../queue/job.js';
import type { CallGate } from '../queue/call-gate.js';
import type { Ledger, OutcomeRecord } from '../queue/ledger.js';
import type { Failure, MailboxSecrets } from '../types.js';

export interface ProcessorConfig {
  maxAttempts: number;
  backoffMs: number;
  credentialTtlMs: number;
  /** Seconds the SDK waits for one answer. */
  apiTimeoutS: number;
}

export interface ProcessorDeps {
  nylas: NylasClient;
  queue: Queue<GrantJobData>;
  ledger: Ledger;
  ring: KeyRing;
  log: Logger;
  config: ProcessorConfig;
  /** The 429 pause, the pace, and per-host cap and circuit breaker, shared through Redis. */
  gate: CallGate;
  /** Called once when the API key is refused; the run must stop. */
  onHalt(reason: string): Promise<void>;
}

/** A transient failure: BullMQ retries it after the backoff. Its message is already scrubbed. */
export class RetryableError extends Error {
  override name = 'RetryableError';
}

function requestSettings(d: GrantJobData, s: MailboxSecrets): Record<string, unknown> {
  const settings: Record<string, unknown> = { imap_username: s.imapUsername, imap_password: s.imapPassword };
  if (d.imapHost) settings.imap_host = d.imapHost;
  if (d.imapPort) settings.imap_port = d.imapPort;
  if (d.smtpHost) settings.smtp_host = d.smtpHost;
  if (d.smtpPort) settings.smtp_port = d.smtpPort;
  if (s.smtpUsername) settings.smtp_username = s.smtpUsername;
  if (s.smtpPassword !== undefined) settings.smtp_password = s.smtpPassword;
  return settings;
}

export function makeProcessor(deps: ProcessorDeps) {
  const { nylas, queue, ledger, ring, log, config } = deps;
  let consecutive429 = 0;

  const finalFailure = async (job: Job<GrantJobData>, failure: Failure, attempts: number, secrets?: MailboxSecrets, metrics?: Record<string, number>): Promise<never> => {
    const record: OutcomeRecord = {
      outcome: failure.type === 'expired' ? 'expired' : 'dead_lettered',
      ...outcomeFields(job.data),
      error_type: failure.type,
      ...(failure.httpStatus !== undefined ? { http_status: failure.httpStatus } : {}),
      message: clip(failure.message),
      attempts,
      ...(failure.requestId ? { request_id: failure.requestId } : {}),
      ...(secrets ? { password_fingerprint: passwordFingerprint(ring, secrets.imapPassword) } : {}),
      finished_at: new Date().toISOString(),
    };
    await ledger.recordOutcome(job.id!, record, metrics);
    await scrubCredentials(job);
    log.warn(
      { event: 'job:dead-lettered', email: job.data.email, line: job.data.line, attempt: attempts, error_type: failure.type, http_status: failure.httpStatus, request_id: failure.requestId },
      `${job.data.email}: dead-lettered (${failure.type})`,
    );
    throw new UnrecoverableError(`${failure.type}: ${clip(failure.message)}`);
  };

  return async function processGrantJob(job: Job<GrantJobData>, token?: string): Promise<void> {
    const attempt = job.attemptsMade + 1;
    // Only a job started before (a crash, a delay, a 429) can already have an outcome;
    // on a first start the lookup is skipped, one Redis round trip per job.
    if ((job.attemptsStarted ?? 0) > 1 && (await ledger.outcomeOf(job.id!))) {
      await scrubCredentials(job);
      return;
    }
    if (Date.now() - job.timestamp > config.credentialTtlMs) {
      const record: OutcomeRecord = {
        outcome: 'expired',
        ...outcomeFields(job.data),
        error_type: 'expired',
        message: `credentials waited longer than --credential-ttl (${Math.round(config.credentialTtlMs / 1000)} s) and were purged unused`,
        attempts: job.attemptsMade,
        finished_at: new Date().toISOString(),
      };
      await ledger.recordOutcome(job.id!, record);
      await scrubCredentials(job);
      log.warn({ event: 'job:expired', email: job.data.email, line: job.data.line }, `${job.data.email}: credentials expired unused`);
      return;
    }

    let secrets: MailboxSecrets;
    try {
      secrets = openSecrets(ring, job.data.sealed, sealBinding(queue.name, job.id!));
    } catch (e) {
      if (!(e instanceof CredentialsUnreadableError)) throw e;
      return finalFailure(job, { type: 'credentials_unreadable', message: e.message }, attempt);
    }

    const host = job.data.imapHost;
    const admission = await deps.gate.admit(host, job.id!);
    if (!admission.go) {
      log.debug({ event: 'job:gate-wait', email: job.data.email, line: job.data.line, host, reason: admission.reason, delay_ms: admission.delayMs }, 'delayed by the call gate');
      await job.moveToDelayed(Date.now() + admission.delayMs, token);
      throw new DelayedError();
    }
    if (admission.probe) log.info({ event: 'host:breaker-probe', host, email: job.data.email }, `probing ${host}`);
    const renewal = host ? setInterval(() => void deps.gate.renew(host, job.id!).catch(() => undefined), deps.gate.opts.leaseMs / 3) : undefined;
    const started = Date.now();
    // Once the answer is in, the slot and the breaker are updated while the
    // outcome is recorded, and the call's latency rides along with whatever
    // ledger write comes next: no job waits on them in turn.
    let released: Promise<void> | undefined;
    let latency: Record<string, number> | undefined;
    const answered = (hostResult: 'S' | 'F' | 'N') => {
      clearInterval(renewal);
      latency = latencyFields(Date.now() - started);
      released = host ? releaseHost(host, hostResult) : Promise.resolve();
    };
    const takeLatency = () => {
      const l = latency ?? {};
      latency = undefined;
      return l;
    };
    try {
      return await callNylas();
    } finally {
      if (!released) answered('N');
      await released;
      if (latency) await ledger.bumpMetrics(takeLatency()).catch(() => undefined);
    }

    async function releaseHost(host: string, hostResult: 'S' | 'F' | 'N'): Promise<void> {
      const change = await deps.gate.release(host, job.id!, hostResult).catch(() => undefined);
      if (change === 'opened') {
        log.warn({ event: 'host:breaker-opened', host, cooldown_ms: deps.gate.opts.cooldownMs }, `${host} is not answering: its jobs wait, one probe every ${Math.round(deps.gate.opts.cooldownMs / 1000)} s`);
        await ledger.bumpMetrics({ breakers_opened: 1 }).catch(() => undefined);
      } else if (change === 'closed') {
        log.warn({ event: 'host:breaker-closed', host }, `${host} answers again: its jobs resume`);
      }
    }

    async function callNylas(): Promise<void> {
      try {
        const res = await nylas.auth.customAuthentication({
          requestBody: { provider: 'imap', settings: requestSettings(job.data, secrets) } as never,
          overrides: { timeout: config.apiTimeoutS },
        });
        consecutive429 = 0;
        answered('S');
        const g = res.data;
        const action = g.createdAt === g.updatedAt ? 'created' : 'reauthenticated';
        await ledger.recordOutcome(job.id!, {
          outcome: 'granted',
          ...outcomeFields(job.data),
          grant_id: g.id,
          grant_status: g.grantStatus ?? 'valid',
          grant_action: job.data.grantId && job.data.grantId === g.id ? 'reauthenticated' : action,
          attempts: attempt,
          request_id: res.requestId,
          finished_at: new Date().toISOString(),
        }, takeLatency());
        log.info(
          { event: 'job:granted', email: job.data.email, line: job.data.line, attempt, grant_id: g.id, request_id: res.requestId },
          `${job.data.email}: granted`,
        );
      } catch (err) {
        const failure = classifyApiError(err);
        answered(failure.type === 'provider_not_responding' ? 'F' : 'N');
        failure.message = redactText(failure.message, [secrets.imapPassword, secrets.smtpPassword, secrets.imapUsername]);
        switch (RETRY_POLICY[failure.type]) {
          case 'retry': {
            if (attempt >= config.maxAttempts) return finalFailure(job, failure, attempt, secrets, takeLatency());
            log.info(
              { event: 'job:retry-scheduled', email: job.data.email, line: job.data.line, attempt, error_type: failure.type, http_status: failure.httpStatus, request_id: failure.requestId },
              `${job.data.email}: ${failure.type}, will retry`,
            );
            await ledger.bumpMetrics({ retries: 1, ...takeLatency() });
            throw new RetryableError(`${failure.type}: ${clip(failure.message)}`);
          }
          case 'pause_all': {
            consecutive429++;
            const ms = rateLimitPauseMs(failure.retryAfterMs, consecutive429, config.backoffMs);
            await queue.rateLimit(ms);
            await ledger.bumpMetrics({ rate_limited: 1, ...takeLatency() });
            log.warn(
              { event: 'queue:rate-limited', email: job.data.email, line: job.data.line, attempt, pause_ms: ms, retry_after: failure.retryAfterMs !== undefined, request_id: failure.requestId },
              `429 from Nylas: every worker pauses ${ms} ms`,
            );
            throw new RateLimitError();
          }
          case 'halt_run': {
            await deps.onHalt(
              `the Nylas API refused the API key (${failure.httpStatus} ${failure.apiType ?? ''}${failure.requestId ? `, request ${failure.requestId}` : ''}); check NYLAS_API_KEY`,
            );
            throw new RateLimitError();
          }
          case 'dead_letter':
            return finalFailure(job, failure, attempt, secrets, takeLatency());
        }
      }
    }
  };
}
