/** Timestamps of events in the last `windowMs`, oldest first. */
class WindowLog {
  private readonly stamps: number[] = [];
  private head = 0;

  constructor(private readonly windowMs: number) {}

  /** How many events are in the window that ends at `now`. */
  count(now: number): number {
    while (this.head < this.stamps.length && this.stamps[this.head]! <= now - this.windowMs) this.head++;
    if (this.head > 1024) {
      this.stamps.splice(0, this.head);
      this.head = 0;
    }
    return this.stamps.length - this.head;
  }

  push(now: number): void {
    this.stamps.push(now);
  }
}

/**
 * A strict sliding-window limiter: at most `limit` events in any window of
 * `windowMs`. Nylas counts 50 requests per second per application; a fixed
 * window would let 100 through across a window edge, so the sandbox uses a
 * sliding one, which is what a client must stay under to be safe.
 */
export class SlidingWindow {
  private readonly accepted: WindowLog;
  private readonly arrivals: WindowLog;
  /** The most arrivals seen in any window, accepted or not (for benchmarks). */
  peak = 0;

  constructor(
    readonly limit: number,
    readonly windowMs = 1000,
  ) {
    this.accepted = new WindowLog(windowMs);
    this.arrivals = new WindowLog(windowMs);
  }

  /** Records an arrival at `now`; returns whether it is within the limit. */
  tryTake(now: number): boolean {
    this.arrivals.push(now);
    this.peak = Math.max(this.peak, this.arrivals.count(now));
    if (this.accepted.count(now) >= this.limit) return false;
    this.accepted.push(now);
    return true;
  }
}
