import { createRequire } from 'node:module';
import pino, { type Logger } from 'pino';

const require = createRequire(import.meta.url);

export type { Logger };

/**
 * Every path a secret could take into a log line. pino replaces the value
 * before serialising, so a secret handed to the logger by mistake still never
 * reaches the output.
 */
export const REDACT_PATHS = [
  'password',
  'imapPassword',
  'smtpPassword',
  'imap_password',
  'smtp_password',
  'apiKey',
  'api_key',
  'key',
  'secrets',
  'authorization',
  '*.password',
  '*.imapPassword',
  '*.smtpPassword',
  '*.imap_password',
  '*.smtp_password',
  '*.apiKey',
  '*.secrets',
  '*.authorization',
  'headers.authorization',
  'settings.imap_password',
  'settings.smtp_password',
  'requestBody.settings.imap_password',
  'requestBody.settings.smtp_password',
];

/**
 * JSON to stderr; human-readable when stderr is a terminal (or when `pretty`
 * is asked for, e.g. for lines printed above progress bars).
 */
export function createLogger(level = 'info', destination: NodeJS.WritableStream = process.stderr, opts: { pretty?: boolean } = {}): Logger {
  const options = { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: undefined };
  if (opts.pretty) {
    const pretty = require('pino-pretty') as typeof import('pino-pretty');
    return pino(options, pretty({ destination, colorize: true, singleLine: true, translateTime: 'HH:MM:ss', ignore: 'pid,hostname', sync: true }));
  }
  if ((destination as NodeJS.WriteStream).isTTY) {
    // Loaded only for terminals: cron and containers never pay for it.
    const pretty = require('pino-pretty') as typeof import('pino-pretty');
    return pino(options, pretty({ destination: 2, colorize: true, singleLine: true, translateTime: 'HH:MM:ss', ignore: 'pid,hostname' }));
  }
  if (destination === process.stderr) return pino(options, pino.destination({ dest: 2, sync: true }));
  return pino(options, destination);
}
