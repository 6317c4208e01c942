/** Exit codes of every command; only `cli/main.ts` turns them into a process exit. */
export const EXIT = {
  /** Every row was granted (or the command had nothing to report). */
  ok: 0,
  /** Fatal: bad config, unreadable CSV, Redis or the API unreachable, API key refused. */
  fatal: 1,
  /** The run finished with rows dead-lettered, rejected or expired. */
  incomplete: 2,
} as const;

/** An error that ends the command with a message and no stack trace. */
export class FatalError extends Error {
  override name = 'FatalError';
}
