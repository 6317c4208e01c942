import { createServer } from 'node:http';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import express from 'express';
import type { Redis } from 'ioredis';
import type { Logger } from '../log.js';
import type { Ledger } from '../queue/ledger.js';
import { listen, type Listening } from '../net/listen.js';
import { basicAuth } from './basic-auth.js';
import { createMetrics } from './metrics.js';

export interface DashboardOptions {
  host: string;
  port: number;
  redis: Redis;
  queue: Queue;
  controlQueue: Queue;
  ledger: Ledger;
  /** Undefined only when --no-auth was given on a loopback address. */
  auth?: { user: string; password: string };
  readOnly: boolean;
  log: Logger;
}

/**
 * Bull Board at /queues (behind basic auth), Prometheus metrics at /metrics
 * and a Redis health check at /healthz.
 */
export async function startDashboard(o: DashboardOptions): Promise<Listening> {
  const app = express();
  app.disable('x-powered-by');
  const board = new ExpressAdapter();
  board.setBasePath('/queues');
  createBullBoard({
    queues: [new BullMQAdapter(o.queue, { readOnlyMode: o.readOnly }), new BullMQAdapter(o.controlQueue, { readOnlyMode: o.readOnly })],
    serverAdapter: board,
    options: { uiConfig: { boardTitle: 'imap-grants' } },
  });
  if (o.auth) app.use('/queues', basicAuth(o.auth.user, o.auth.password));
  app.use('/queues', board.getRouter());

  const metrics = createMetrics(o.queue, o.ledger);
  app.get('/metrics', (_req, res) => {
    metrics.render().then(
      (text) => res.type(metrics.contentType).send(text),
      (e: unknown) => res.status(503).type('text/plain').send(`metrics unavailable: ${(e as Error).message}\n`),
    );
  });
  app.get('/healthz', (_req, res) => {
    o.redis.ping().then(
      () => res.json({ status: 'ok', redis: 'ok' }),
      (e: unknown) => res.status(503).json({ status: 'error', redis: (e as Error).message }),
    );
  });
  app.get('/', (_req, res) => res.redirect('/queues'));

  return listen(createServer(app), o.host, o.port);
}
