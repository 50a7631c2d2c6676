import closeWithGrace from 'close-with-grace';

export interface ShutdownOptions {
  /** past this, the process exits 1 whatever `stop` is doing (default 30 s) */
  deadlineMs?: number;
  log?: (line: string) => void;
}

/**
 * The one graceful shutdown of a feedlog process, by close-with-grace: on SIGTERM/SIGINT (and the
 * other termination signals), an uncaught exception or an unhandled rejection, `stop` runs once
 * (finish or abort the open transactions, leave the group, flush telemetry), then the process
 * exits (1 after an error). A second signal, or `deadlineMs` passing, exits 1 at once.
 * Returns the uninstall function.
 */
export function onShutdown(stop: () => Promise<void>, opts: ShutdownOptions = {}): () => void {
  const log = opts.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const closer = closeWithGrace(
    {
      delay: opts.deadlineMs ?? 30_000,
      logger: { error: (m: unknown) => log(`shutdown: ${m instanceof Error ? (m.stack ?? m.message) : String(m)}`) },
    },
    async ({ signal, err }) => {
      if (signal) log(`${signal}: stopping gracefully`);
      if (err) log(`stopping after an error: ${err.stack ?? err.message}`);
      await stop();
    },
  );
  return closer.uninstall;
}
