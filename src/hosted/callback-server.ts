import http from 'node:http';
import { verifyState } from '../core/signed-state.js';
import type { KeyRing } from '../crypto/key-ring.js';
import type { Logger } from '../log.js';
import type { NylasClient } from '../nylas/sdk.js';
import { jobIdFor } from '../queue/job.js';
import { Ledger } from '../queue/ledger.js';
import type { Redis } from 'ioredis';
import { listen, type Listening } from '../net/listen.js';
import { renderPage, type PageKind } from './callback-pages.js';
import { stateKeys } from './make-invites.js';

export interface CallbackOptions {
  host: string;
  port: number;
  nylas: NylasClient;
  ring: KeyRing;
  redis: Redis;
  clientId: string;
  /** Must equal the redirect_uri of the invites: Nylas checks it at the code exchange. */
  redirectUri: string;
  log: Logger;
}

const ERROR_PAGES = new Set<PageKind>(['invalid_authentication', 'auth_limit_reached', 'provider_not_responding']);

/**
 * Serves the invites' redirect_uri: checks the signed state, exchanges the
 * code for the grant, records it in the run's ledger (so the row moves from
 * dead-letter.csv to grants.csv at the next `report`), and tells the person
 * what happened and what to do next.
 */
export async function startCallbackServer(o: CallbackOptions): Promise<Listening> {
  const keys = stateKeys(o.ring);

  async function handle(url: URL): Promise<{ kind: PageKind; email?: string }> {
    const token = url.searchParams.get('state') ?? '';
    const check = verifyState(token, keys, Date.now());
    if (!check.ok) {
      o.log.warn({ event: 'callback:state-refused', reason: check.reason }, `refused a callback: state ${check.reason}`);
      return { kind: check.reason === 'expired' ? 'link_expired' : 'link_invalid' };
    }
    const { email, line, queue } = check.state;
    const errorType = url.searchParams.get('error_type');
    if (errorType || url.searchParams.get('error')) {
      const kind = ERROR_PAGES.has(errorType as PageKind) ? (errorType as PageKind) : 'failed';
      o.log.info({ event: 'callback:error', email, line, error_type: errorType ?? url.searchParams.get('error') }, `${email}: hosted auth ended with ${errorType ?? 'an error'}`);
      return { kind, email };
    }
    const code = url.searchParams.get('code');
    if (!code) return { kind: 'link_invalid', email };
    try {
      const token = await o.nylas.auth.exchangeCodeForToken({ clientId: o.clientId, redirectUri: o.redirectUri, code } as never);
      const grant = await o.nylas.grants.find({ grantId: token.grantId });
      await new Ledger(o.redis, queue).recordOutcome(jobIdFor(email), {
        outcome: 'granted',
        line,
        email,
        grant_id: token.grantId,
        grant_status: grant.data.grantStatus ?? 'valid',
        grant_action: 'hosted_auth',
        attempts: 1,
        request_id: grant.requestId,
        finished_at: new Date().toISOString(),
      });
      o.log.info({ event: 'callback:granted', email, line, grant_id: token.grantId }, `${email}: connected through hosted auth`);
      return { kind: 'connected', email };
    } catch (e) {
      o.log.warn({ event: 'callback:exchange-failed', email, line, err: (e as Error).message.slice(0, 200) }, `${email}: code exchange failed`);
      return { kind: 'failed', email };
    }
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://callback');
    if (req.method !== 'GET' || url.pathname === '/favicon.ico') {
      res.writeHead(404).end();
      return;
    }
    handle(url)
      .then(({ kind, email }) => {
        const page = renderPage(kind, email);
        res.writeHead(page.status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
        res.end(page.html);
      })
      .catch(() => {
        res.writeHead(500).end();
      });
  });
  return listen(server, o.host, o.port);
}
