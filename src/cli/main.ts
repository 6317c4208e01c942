#!/usr/bin/env node
/**
 * The imap-grants command line: the one place that reads argv, handles
 * signals and exits. Commands return normally or throw; this file turns the
 * outcome into an exit code (see `exit.ts`).
 */
import { existsSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/settings.js';
import { EXIT, FatalError } from './exit.js';
import type { CommandContext } from './context.js';
import { sandboxCommand } from './commands/sandbox.js';
import { runCommand } from './commands/run.js';
import { demoCommand } from './commands/demo.js';
import { importCommand } from './commands/import.js';
import { workCommand } from './commands/work.js';
import { reportCommand } from './commands/report.js';
import { reconcileCommand } from './commands/reconcile.js';
import { checkCommand } from './commands/check.js';
import { scheduleCommand } from './commands/schedule.js';
import { inviteCommand } from './commands/invite.js';
import { callbackCommand } from './commands/callback.js';
import { statusCommand } from './commands/status.js';
import { dashboardCommand } from './commands/dashboard.js';

/** Errors whose message says it all: printed without a stack trace, exit 1. */
const KNOWN_FATAL = new Set([
  'ApiKeyRefusedError',
  'ApiUnavailableError',
  'KeyError',
  'RedisUnavailableError',
  'RunRefusedError',
  'RunLockedError',
  'UnreadableCsvError',
]);

// Settings may come from a .env file in the working directory (or IMAP_GRANTS_ENV_FILE);
// variables already set in the environment win over it.
const envFile = process.env.IMAP_GRANTS_ENV_FILE ?? '.env';
if (existsSync(envFile)) {
  try {
    process.loadEnvFile(envFile);
  } catch (e) {
    process.stderr.write(`imap-grants: cannot read ${envFile}: ${(e as Error).message}\n`);
    process.exit(EXIT.fatal);
  }
}

const controller = new AbortController();
let exitCode: number = EXIT.ok;
let signals = 0;

function onSignal(signal: NodeJS.Signals): void {
  signals++;
  if (signals === 1) {
    process.stderr.write(`imap-grants: ${signal} received, shutting down (send again to force)\n`);
    controller.abort();
    return;
  }
  process.stderr.write(`imap-grants: second ${signal}, exiting now\n`);
  process.exit(EXIT.fatal);
}
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const ctx: CommandContext = {
  shutdown: controller.signal,
  untilShutdown: () =>
    new Promise((resolve) => {
      if (controller.signal.aborted) resolve();
      else controller.signal.addEventListener('abort', () => resolve(), { once: true });
    }),
  setExitCode: (code) => {
    exitCode = code;
  },
  out: process.stdout,
};

const program = new Command('imap-grants')
  .description('Connect IMAP mailboxes to Nylas in bulk: import a CSV, create grants with custom auth, report every row.')
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride();

for (const make of [runCommand, importCommand, workCommand, reportCommand, reconcileCommand, scheduleCommand, checkCommand, inviteCommand, callbackCommand, statusCommand, dashboardCommand, demoCommand, sandboxCommand]) program.addCommand(make(ctx));

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.fatal;
  } else if (
    err instanceof ConfigError ||
    err instanceof FatalError ||
    (err instanceof Error && KNOWN_FATAL.has(err.name)) ||
    (err as NodeJS.ErrnoException | undefined)?.code === 'EADDRINUSE'
  ) {
    process.stderr.write(`imap-grants: ${(err as Error).message}\n`);
    exitCode = EXIT.fatal;
  } else {
    process.stderr.write(`imap-grants: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    exitCode = EXIT.fatal;
  }
}

// Open handles (Redis sockets, timers) must not keep a finished command alive;
// give stdout/stderr a moment to flush, then leave.
process.exitCode = exitCode;
setTimeout(() => process.exit(exitCode), 200).unref();
