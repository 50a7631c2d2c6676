/**
 * SIGTERM/SIGINT → one graceful stop (finish or abort the open transactions, leave the group),
 * then exit. A second signal exits at once.
 */
export function onShutdown(
  stop: () => Promise<void>,
  opts: { signals?: NodeJS.Signals[]; exit?: boolean; log?: (s: string) => void } = {},
): () => void {
  const signals = opts.signals ?? ['SIGTERM', 'SIGINT'];
  const log = opts.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      log(`${signal} again: exiting now`);
      process.exit(1);
    }
    stopping = true;
    log(`${signal}: stopping gracefully`);
    stop().then(
      () => {
        if (opts.exit !== false) process.exit(0);
      },
      (e) => {
        log(`graceful stop failed: ${(e as Error)?.stack ?? e}`);
        if (opts.exit !== false) process.exit(1);
      },
    );
  };
  for (const s of signals) process.on(s, handler);
  return () => {
    for (const s of signals) process.off(s, handler);
  };
}
