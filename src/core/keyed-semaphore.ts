/**
 * At most `limit` holders per key at once (e.g. logins per IMAP host), with
 * waiters served in arrival order. Small mail servers count connections per
 * client IP; going over their limit looks like an outage or trips fail2ban.
 */
export class KeyedSemaphore {
  private readonly active = new Map<string, number>();
  private readonly waiting = new Map<string, Array<() => void>>();

  constructor(readonly limit: number) {}

  async acquire(key: string): Promise<() => void> {
    const n = this.active.get(key) ?? 0;
    if (n < this.limit) {
      this.active.set(key, n + 1);
    } else {
      await new Promise<void>((resolve) => {
        const q = this.waiting.get(key) ?? [];
        q.push(resolve);
        this.waiting.set(key, q);
      });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const q = this.waiting.get(key);
      const next = q?.shift();
      if (q && q.length === 0) this.waiting.delete(key);
      if (next) next(); // the slot passes straight to the next waiter
      else {
        const left = (this.active.get(key) ?? 1) - 1;
        if (left === 0) this.active.delete(key);
        else this.active.set(key, left);
      }
    };
  }

  inUse(key: string): number {
    return this.active.get(key) ?? 0;
  }
}
