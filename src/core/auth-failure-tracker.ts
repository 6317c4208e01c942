/**
 * Lockout emulation: after `maxFailures` failed logins for one email within
 * `windowMs`, further attempts are refused without contacting the mail
 * server until the oldest failure leaves the window. This is what real
 * providers do, and why the worker must never retry a wrong password.
 */
export class AuthFailureTracker {
  private readonly failures = new Map<string, number[]>();

  constructor(
    readonly maxFailures = 3,
    readonly windowMs = 15 * 60 * 1000,
  ) {}

  private recent(email: string, now: number): number[] {
    const list = (this.failures.get(email) ?? []).filter((t) => t > now - this.windowMs);
    if (list.length === 0) this.failures.delete(email);
    else this.failures.set(email, list);
    return list;
  }

  isLocked(email: string, now: number): boolean {
    return this.recent(email, now).length >= this.maxFailures;
  }

  /** Milliseconds until the lock lifts (0 when not locked). */
  lockedForMs(email: string, now: number): number {
    const list = this.recent(email, now);
    if (list.length < this.maxFailures) return 0;
    return list[list.length - this.maxFailures]! + this.windowMs - now;
  }

  recordFailure(email: string, now: number): void {
    this.failures.set(email, [...this.recent(email, now), now]);
  }

  recordSuccess(email: string): void {
    this.failures.delete(email);
  }
}
