/**
 * Redis restarts in the middle of a run (its own redis-server, AOF on, on
 * another port): the run still completes with every row accounted for.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { ephemeralKeyRing } from '../../src/crypto/key-ring.js';
import { startDemoMailServers, type RunningMailServers } from '../../src/demo/mail-servers.js';
import { runPipeline } from '../../src/run/run-pipeline.js';
import type { RunningSandbox } from '../../src/sandbox/server.js';
import { closedPort } from '../helpers/net.js';
import { capturedLogger, randomPassword, readReport, tempDir, uniqueQueue, writeCsv } from '../helpers/pipeline.js';
import { sandboxWithClient, TEST_API_KEY } from '../helpers/sandbox.js';

const hasRedisServer = spawnSync('sh', ['-c', 'command -v redis-server']).status === 0;
const N = 60;
const mailboxes: Record<string, string> = Object.fromEntries(Array.from({ length: N }, (_, i) => [`rr${i}@restart.test`, randomPassword()]));
let mail: RunningMailServers;
let sandbox: RunningSandbox;
let port: number;
let dataDir: string;
let server: ChildProcess | undefined;

async function startRedis(): Promise<void> {
  server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dataDir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' });
  const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => 50, maxRetriesPerRequest: 1 });
  probe.on('error', () => {});
  for (let i = 0; i < 100; i++) {
    try {
      await probe.connect().catch(() => undefined);
      if ((await probe.ping()) === 'PONG') break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  probe.disconnect();
}

async function stopRedis(): Promise<void> {
  const s = server;
  if (!s) return;
  const exited = new Promise((r) => s.once('exit', r));
  spawnSync('redis-cli', ['-p', String(port), 'shutdown']);
  await exited;
  server = undefined;
}

describe.skipIf(!hasRedisServer)('a Redis restart mid-run', () => {
  beforeAll(async () => {
    mail = await startDemoMailServers({ mailboxes });
    ({ sandbox } = await sandboxWithClient({ rate: 10_000, latencyMs: 150 }));
    port = await closedPort();
    dataDir = await tempDir();
    await startRedis();
  });
  afterAll(async () => {
    await stopRedis();
    await sandbox?.close();
    await mail?.close();
  });

  it('loses nothing: workers reconnect and every row ends in one report', async () => {
    const dir = await tempDir();
    const csv = await writeCsv(dir, [['email', 'imap_password', 'imap_host', 'imap_port'], ...Object.entries(mailboxes).map(([e, p]) => [e, p, '127.0.0.1', String(mail.imapPort)])]);
    const out = join(dir, 'out');
    const running = runPipeline({
      csvPath: csv,
      outDir: out,
      queueName: uniqueQueue('restart'),
      redisUrl: `redis://127.0.0.1:${port}`,
      apiKey: TEST_API_KEY,
      apiUri: sandbox.url,
      worker: { concurrency: 4, perHostConcurrency: 10, rate: 20, maxAttempts: 3, backoffMs: 50, credentialTtlMs: 3_600_000, apiTimeoutS: 5 },
      defaults: {},
      ring: ephemeralKeyRing(),
      log: capturedLogger().log,
    });
    await new Promise((r) => setTimeout(r, 1_200));
    const before = sandbox.stats.customAuth.created;
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThan(N);
    await stopRedis();
    await new Promise((r) => setTimeout(r, 1_000));
    await startRedis();
    const summary = await running;
    expect(summary).toMatchObject({ accepted: N, granted: N, dead_lettered: 0 });
    const grants = await readReport(join(out, 'grants.csv'));
    expect(new Set(grants.map((g) => g.line)).size).toBe(N);
    // No mailbox got a second grant.
    expect(sandbox.stats.customAuth.created).toBe(N);
  });
});
