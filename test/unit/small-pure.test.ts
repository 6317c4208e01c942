import { describe, expect, it } from 'vitest';
import { AuthFailureTracker } from '../../src/core/auth-failure-tracker.js';
import { backoffDelayMs, rateLimitPauseMs } from '../../src/core/backoff.js';
import { parseFaultMix, pickFault, seededRandom } from '../../src/core/fault-mix.js';
import { lineBreaks } from '../../src/core/line-breaks.js';
import { neutraliseCell } from '../../src/core/neutralise-cell.js';
import { redactText } from '../../src/core/redact.js';
import { SlidingWindow } from '../../src/core/sliding-window.js';
import { maskSecret, resolveSettings } from '../../src/config/settings.js';

describe('backoffDelayMs (full jitter)', () => {
  it.each([
    { retry: 1, random: 0.999, max: 1000 },
    { retry: 2, random: 0.999, max: 2000 },
    { retry: 4, random: 0.999, max: 8000 },
    { retry: 30, random: 0.999, max: 300_000 },
  ])('retry $retry stays under $max ms', ({ retry, random, max }) => {
    const d = backoffDelayMs(retry, 1000, 300_000, () => random);
    expect(d).toBeLessThan(max);
    expect(d).toBeGreaterThanOrEqual(max * 0.99);
    expect(backoffDelayMs(retry, 1000, 300_000, () => 0)).toBe(0);
  });

  it('honours Retry-After, else backs off with jitter', () => {
    expect(rateLimitPauseMs(3000, 1, 1000)).toBe(3000);
    expect(rateLimitPauseMs(undefined, 1, 1000, () => 0)).toBe(250);
    expect(rateLimitPauseMs(undefined, 3, 1000, () => 0.5)).toBe(2000);
  });
});

describe('parseFaultMix', () => {
  it.each([
    { spec: '504:0.1,429:0.05,502html:0.02,reset:0.01,hang:0.01', ok: true },
    { spec: '', ok: true },
    { spec: '504', error: /expected "kind:probability"/ },
    { spec: 'boom:0.1', error: /unknown fault "boom"/ },
    { spec: '504:1.5', error: /from 0 to 1, got "1.5"/ },
    { spec: '504:0.7,429:0.6', error: /add up to 1.300/ },
  ])('"$spec"', ({ spec, ok, error }) => {
    const r = parseFaultMix(spec);
    if (ok) expect(r.ok).toBe(true);
    else {
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error).toMatch(error!);
    }
  });

  it('is repeatable for a seed and close to the asked shares', () => {
    const mix = parseFaultMix('504:0.1,429:0.05');
    if (!mix.ok) throw new Error();
    const run = (seed: number) => {
      const r = seededRandom(seed);
      return Array.from({ length: 10_000 }, () => pickFault(mix.value, r()));
    };
    expect(run(7)).toEqual(run(7));
    const share = run(7).filter((k) => k === '504').length / 10_000;
    expect(share).toBeGreaterThan(0.09);
    expect(share).toBeLessThan(0.11);
  });
});

describe('SlidingWindow', () => {
  it('allows at most `limit` in any window, across fixed-window edges', () => {
    const w = new SlidingWindow(3, 1000);
    expect([0, 900, 950].map((t) => w.tryTake(t))).toEqual([true, true, true]);
    expect(w.tryTake(1001)).toBe(true); // 0 has left the window
    expect(w.tryTake(1002)).toBe(false); // 900, 950, 1001 are in it
    expect(w.peak).toBe(4);
  });
});

describe('AuthFailureTracker', () => {
  it('locks after three failures in the window and unlocks after it', () => {
    const t = new AuthFailureTracker(3, 1000);
    t.recordFailure('a', 0);
    t.recordFailure('a', 100);
    expect(t.isLocked('a', 200)).toBe(false);
    t.recordFailure('a', 200);
    expect(t.isLocked('a', 300)).toBe(true);
    expect(t.lockedForMs('a', 300)).toBe(700);
    expect(t.isLocked('b', 300)).toBe(false);
    expect(t.isLocked('a', 1001)).toBe(false);
  });
});

describe('lineBreaks', () => {
  it.each([
    { raw: 'a,b', n: 0 },
    { raw: 'a,b\n', n: 1 },
    { raw: 'a,b\r\n', n: 1 },
    { raw: 'a,b\r', n: 1 },
    { raw: 'a,"x\r\ny"\r\n', n: 2 },
    { raw: 'a,"x\n\ny"\n', n: 3 },
    { raw: '\r\r\n\n', n: 3 },
  ])('$raw has $n', ({ raw, n }) => {
    expect(lineBreaks(raw)).toBe(n);
  });
});

describe('neutraliseCell', () => {
  it.each([
    ['=cmd|\' /C calc\'!A0', "'=cmd|' /C calc'!A0"],
    ['+1', "'+1"],
    ['-2', "'-2"],
    ['@SUM(A1)', "'@SUM(A1)"],
    ['\tx', "'\tx"],
    ['alice@example.com', 'alice@example.com'],
    [42, 42],
  ])('%s', (input, output) => expect(neutraliseCell(input)).toBe(output));
});

describe('redactText', () => {
  it('removes a secret in clear, base64 and URL-encoded forms', () => {
    const pw = 'p@ss word';
    const text = `a ${pw} b ${Buffer.from(pw).toString('base64')} c ${encodeURIComponent(pw)}`;
    expect(redactText(text, [pw])).toBe('a [redacted] b [redacted] c [redacted]');
  });
});

describe('resolveSettings', () => {
  it('takes flag, then env, then default, and names both on error', () => {
    expect(resolveSettings(['rate'], {}, {}).rate).toBe(25);
    expect(resolveSettings(['rate'], {}, { IMAP_GRANTS_RATE: '40' }).rate).toBe(40);
    expect(resolveSettings(['rate'], { rate: '10' }, { IMAP_GRANTS_RATE: '40' }).rate).toBe(10);
    expect(() => resolveSettings(['rate', 'concurrency'], { rate: 'fast', concurrency: '0' }, {})).toThrow(
      /--rate \(IMAP_GRANTS_RATE\): expected an integer from 1 to 10000, got "fast"\n--concurrency \(IMAP_GRANTS_CONCURRENCY\): expected an integer from 1 to 1000, got "0"/,
    );
    expect(() => resolveSettings(['apiUri'], { apiUri: 'https://api.us.nylas.com/' }, {})).toThrow(/without a trailing slash/);
    expect(() => resolveSettings(['apiKey'], {}, {}, ['apiKey'])).toThrow(/--api-key \(NYLAS_API_KEY\) is required/);
  });

  it('masks secrets in errors', () => {
    expect(maskSecret('nyk_abcdef123456')).toBe('****3456');
    expect(() => resolveSettings(['apiKey'], { apiKey: '' }, {})).toThrow(/got \*\*\*\*/);
  });
});

describe('KeyedSemaphore', () => {
  it('lets `limit` holders in per key, and the next in order when one leaves', async () => {
    const { KeyedSemaphore } = await import('../../src/core/keyed-semaphore.js');
    const s = new KeyedSemaphore(2);
    const order: string[] = [];
    const a = await s.acquire('h');
    const b = await s.acquire('h');
    const other = await s.acquire('g');
    const c = s.acquire('h').then((r) => (order.push('c'), r));
    const d = s.acquire('h').then((r) => (order.push('d'), r));
    await new Promise((r) => setTimeout(r, 5));
    expect(order).toEqual([]);
    expect(s.inUse('h')).toBe(2);
    a();
    a(); // releasing twice frees one slot only
    await c;
    expect(order).toEqual(['c']);
    b();
    await d;
    expect(order).toEqual(['c', 'd']);
    other();
    expect(s.inUse('g')).toBe(0);
  });
});

describe('signed invite state', () => {
  it('verifies its own, refuses forged, stretched, malformed and expired ones', async () => {
    const { signState, verifyState } = await import('../../src/core/signed-state.js');
    const key = Buffer.alloc(32, 1);
    const other = Buffer.alloc(32, 2);
    const state = { email: 'a@x.io', line: 7, queue: 'q', exp: 10_000 };
    const token = signState(state, key);
    expect(token.length).toBeLessThan(256);
    const [body, sig] = token.split('.');
    const stretched = Buffer.from(JSON.stringify({ e: 'a@x.io', l: 7, q: 'q', x: 99_999 })).toString('base64url');
    const cases: Array<[string, string, readonly Buffer[], number, unknown]> = [
      ['valid', token, [key], 5_000, { ok: true, state }],
      ['valid under a previous key', token, [other, key], 5_000, { ok: true, state }],
      ['expired', token, [key], 10_001, { ok: false, reason: 'expired' }],
      ['other key', token, [other], 5_000, { ok: false, reason: 'forged' }],
      ['stretched expiry', `${stretched}.${sig}`, [key], 5_000, { ok: false, reason: 'forged' }],
      ['no signature', body!, [key], 5_000, { ok: false, reason: 'malformed' }],
      ['garbage', 'a.b.c', [key], 5_000, { ok: false, reason: 'malformed' }],
    ];
    for (const [name, t, keys, now, want] of cases) expect(verifyState(t, keys, now), name).toEqual(want);
  });
});
