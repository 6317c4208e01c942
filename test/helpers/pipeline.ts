import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { spawn } from 'node:child_process';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { createLogger } from '../../src/log.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export const uniqueQueue = (tag = 't') => `${tag}-${randomUUID().slice(0, 12)}`;

export async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'imap-grants-test-'));
}

export async function writeCsv(dir: string, rows: string[][], name = 'in.csv'): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, stringify(rows), { mode: 0o600 });
  return path;
}

export async function readReport(path: string): Promise<Record<string, string>[]> {
  return parse(await readFile(path, 'utf8'), { columns: true }) as Record<string, string>[];
}

/** A logger whose every line is kept, to be searched for secrets. */
export function capturedLogger(level = 'debug') {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString('utf8')));
  return { log: createLogger(level, stream), text: () => text };
}

export const randomPassword = () => `pw-${randomBytes(9).toString('base64url')}`;

/** Runs the built CLI, as a user would, in its own process group. */
export function runCli(args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['dist/cli/main.js', ...args], {
      env: { ...process.env, LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
