/** What the entry point hands each command: signals in, an exit code out. */
export interface CommandContext {
  /** Resolves on the first SIGINT or SIGTERM. */
  untilShutdown(): Promise<void>;
  /** An AbortSignal that fires on the first SIGINT or SIGTERM. */
  shutdown: AbortSignal;
  setExitCode(code: number): void;
  /** Standard output, where commands print summaries for people. */
  out: NodeJS.WritableStream;
}
