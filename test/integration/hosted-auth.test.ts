/**
 * The hosted-auth fallback end to end: dead-letter.csv → invite → the
 * sandbox's hosted form → redirect → callback → grant in the run's ledger.
 * Driven once with plain HTTP requests and once in headless Chromium.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { loadKeyRing, type KeyRing } from '../../src/crypto/key-ring.js';
import { startDemoMailServers, type RunningMailServers } from '../../src/demo/mail-servers.js';
import { startCallbackServer } from '../../src/hosted/callback-server.js';
import { makeInvites } from '../../src/hosted/make-invites.js';
import type { NylasClient } from '../../src/nylas/sdk.js';
import { jobIdFor } from '../../src/queue/job.js';
import { Ledger } from '../../src/queue/ledger.js';
import type { RunningSandbox } from '../../src/sandbox/server.js';
import { closedPort } from '../helpers/net.js';
import { capturedLogger, randomPassword, readReport, REDIS_URL, tempDir, uniqueQueue } from '../helpers/pipeline.js';
import { sandboxWithClient } from '../helpers/sandbox.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(process.cwd(), 'test-artifacts');

const mailboxes: Record<string, string> = Object.fromEntries(
  ['ana', 'ben', 'cid', 'dot', 'eve', 'fay', 'gus', 'hal'].map((n) => [`${n}@invite.test`, randomPassword()]),
);
let mail: RunningMailServers;
let sandbox: RunningSandbox;
let nylas: NylasClient;
let redis: Redis;
let ring: KeyRing;
let callback: { url: string; close(): Promise<void> };
let redirectUri: string;
let dir: string;
const queue = uniqueQueue('invite');
const clientId = 'client-test';

async function invitesFor(emails: string[], ttlMs = 3_600_000) {
  const deadLetter = join(dir, `dl-${randomBytes(3).toString('hex')}.csv`);
  const lines = emails.map((e, i) => `${i + 2},${e},127.0.0.1,invalid_authentication,400,refused,1,req,fp,,now`);
  await writeFile(deadLetter, `line,email,imap_host,error_type,http_status,message,attempts,request_id,password_fingerprint,warnings,finished_at\n${lines.join('\n')}\n`);
  const out = join(dir, `inv-${randomBytes(3).toString('hex')}.csv`);
  await makeInvites({ deadLetterPath: deadLetter, outPath: out, nylas, ring, clientId, redirectUri, queue, ttlMs });
  return Object.fromEntries((await readReport(out)).map((r) => [r.email, r.invite_url!]));
}

/** Fills and posts the hosted form like a browser would; returns where the redirect points. */
async function submitForm(inviteUrl: string, password: string, imapPort = mail.imapPort): Promise<string> {
  const html = await (await fetch(inviteUrl)).text();
  const value = (name: string) => (html.match(new RegExp(`name="${name}" (?:id="${name}" )?value="([^"]*)"`))?.[1] ?? '').replace(/&amp;/g, '&');
  const body = new URLSearchParams({
    client_id: value('client_id'),
    redirect_uri: value('redirect_uri'),
    state: value('state'),
    email: value('email'),
    imap_password: password,
    imap_host: '127.0.0.1',
    imap_port: String(imapPort),
  });
  const res = await fetch(`${sandbox.url}/v3/connect/auth`, { method: 'POST', body, redirect: 'manual' });
  expect(res.status).toBe(302);
  return res.headers.get('location')!;
}

async function page(url: string) {
  const res = await fetch(url);
  const html = await res.text();
  return { status: res.status, kind: html.match(/data-page="([^"]+)"/)?.[1], html };
}

beforeAll(async () => {
  mail = await startDemoMailServers({ mailboxes });
  ({ sandbox, nylas } = await sandboxWithClient({ rate: 10_000 }));
  redis = new Redis(REDIS_URL);
  ring = loadKeyRing({ key: randomBytes(32).toString('base64') })!;
  dir = await tempDir();
  const port = await closedPort();
  redirectUri = `http://127.0.0.1:${port}/callback`;
  callback = await startCallbackServer({ host: '127.0.0.1', port, nylas, ring, redis, clientId, redirectUri, log: capturedLogger().log });
});
afterAll(async () => {
  await callback?.close();
  redis?.disconnect();
  await sandbox?.close();
  await mail?.close();
});

describe('invite → hosted auth → callback, over HTTP', () => {
  it('only rows that failed on their password get an invite, with login_hint and a signed state', async () => {
    const deadLetter = join(dir, 'mixed.csv');
    await writeFile(
      deadLetter,
      'line,email,imap_host,error_type\n2,ana@invite.test,h,invalid_authentication\n3,ben@invite.test,h,auth_limit_reached\n4,cid@invite.test,h,provider_not_responding\n',
    );
    const out = join(dir, 'mixed-invites.csv');
    expect(await makeInvites({ deadLetterPath: deadLetter, outPath: out, nylas, ring, clientId, redirectUri, queue, ttlMs: 1000 })).toEqual({ invited: 2, skipped: 1 });
    const invites = await readReport(out);
    expect(invites.map((i) => i.email)).toEqual(['ana@invite.test', 'ben@invite.test']);
    const u = new URL(invites[0]!.invite_url!);
    expect(u.searchParams.get('provider')).toBe('imap');
    expect(u.searchParams.get('login_hint')).toBe('ana@invite.test');
    expect(u.searchParams.get('state')!.length).toBeLessThan(256);
  });

  it('connects the mailbox and moves the row from dead letter to granted in the run\'s ledger', async () => {
    const email = 'ana@invite.test';
    const ledger = new Ledger(redis, queue);
    await ledger.recordOutcome(jobIdFor(email), { outcome: 'dead_lettered', line: 2, email, error_type: 'invalid_authentication', attempts: 1, finished_at: 'x' });
    const { [email]: url } = await invitesFor([email]);
    const back = await submitForm(url!, mailboxes[email]!);
    expect(back.startsWith(redirectUri)).toBe(true);
    const p = await page(back);
    expect(p).toMatchObject({ status: 200, kind: 'connected' });
    expect(p.html).toContain(email);
    const outcome = await ledger.outcomeOf(jobIdFor(email));
    expect(outcome).toMatchObject({ outcome: 'granted', grant_action: 'hosted_auth', line: 2 });
    expect((await nylas.grants.find({ grantId: outcome!.grant_id! })).data.email).toBe(email);
    expect(await ledger.counts()).toMatchObject({ granted: 1, dead_lettered: 0 });
    // The code works once: a replay of the same callback cannot connect anything.
    expect((await page(back)).kind).toBe('failed');
  });

  it('shows what to do for each error_type', async () => {
    const { ['ben@invite.test']: wrong, ['cid@invite.test']: locked, ['dot@invite.test']: down } = await invitesFor(['ben@invite.test', 'cid@invite.test', 'dot@invite.test']);
    expect((await page(await submitForm(wrong!, 'not-it'))).kind).toBe('invalid_authentication');
    for (let i = 0; i < 3; i++) await submitForm(locked!, `bad-${i}`);
    const lockedPage = await page(await submitForm(locked!, mailboxes['cid@invite.test']!));
    expect(lockedPage.kind).toBe('auth_limit_reached');
    expect(lockedPage.html).toContain('wait 15 minutes');
    expect((await page(await submitForm(down!, mailboxes['dot@invite.test']!, await closedPort()))).kind).toBe('provider_not_responding');
  });

  it('refuses forged and expired links', async () => {
    const { ['eve@invite.test']: url } = await invitesFor(['eve@invite.test']);
    const back = new URL(await submitForm(url!, mailboxes['eve@invite.test']!));
    const state = back.searchParams.get('state')!;
    const forged = new URL(back);
    forged.searchParams.set('state', `${Buffer.from(JSON.stringify({ e: 'eve@invite.test', l: 2, q: queue, x: Date.now() + 1e9 })).toString('base64url')}.${state.split('.')[1]}`);
    expect(await page(forged.toString())).toMatchObject({ status: 400, kind: 'link_invalid' });

    const { ['fay@invite.test']: old } = await invitesFor(['fay@invite.test'], -1);
    expect(await page(await submitForm(old!, mailboxes['fay@invite.test']!))).toMatchObject({ status: 400, kind: 'link_expired' });
  });
});

describe.skipIf(!existsSync(CHROMIUM))('the same, in headless Chromium', () => {
  it('a person enters a new password and sees each page; screenshots are kept', async () => {
    const { chromium } = await import('playwright-core');
    await mkdir(ARTIFACTS, { recursive: true });
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const invites = await invitesFor(['gus@invite.test', 'hal@invite.test']);
      const fill = async (url: string, password: string, port = mail.imapPort) => {
        const tab = await browser.newPage();
        await tab.goto(url);
        expect(await tab.inputValue('#email')).toBe(new URL(url).searchParams.get('login_hint'));
        await tab.fill('#imap_password', password);
        await tab.fill('#imap_host', '127.0.0.1');
        await tab.fill('#imap_port', String(port));
        await tab.click('#connect');
        await tab.waitForURL((u) => u.toString().startsWith(redirectUri));
        return tab;
      };
      const shoot = async (tab: Awaited<ReturnType<typeof fill>>, kind: string) => {
        expect(await tab.getAttribute('body', 'data-page')).toBe(kind);
        await tab.screenshot({ path: join(ARTIFACTS, `callback-${kind}.png`) });
        await tab.close();
      };
      await shoot(await fill(invites['hal@invite.test']!, 'wrong-password'), 'invalid_authentication');
      await shoot(await fill(invites['hal@invite.test']!, 'wrong-again', await closedPort()), 'provider_not_responding');
      await fill(invites['hal@invite.test']!, 'third-wrong').then((t) => t.close());
      await fill(invites['hal@invite.test']!, 'fourth-wrong').then((t) => t.close());
      await shoot(await fill(invites['hal@invite.test']!, mailboxes['hal@invite.test']!), 'auth_limit_reached');
      await shoot(await fill(invites['gus@invite.test']!, mailboxes['gus@invite.test']!), 'connected');
      expect(await new Ledger(redis, queue).outcomeOf(jobIdFor('gus@invite.test'))).toMatchObject({ outcome: 'granted', grant_action: 'hosted_auth' });
    } finally {
      await browser.close();
    }
  });
});
