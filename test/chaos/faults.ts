import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ChaosStack, PROCESSES, type ProcessName, type StageName } from './stack.ts';

/**
 * Fault injectors: each does its harm to the chaos stack, heals it, and says what it did in one
 * line. Healing means the process or service is back (ready), not that the pipeline caught up:
 * the runner measures that.
 */
export type Log = (line: string) => void;

const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)] as T;

/**
 * `rounds` rounds; in each, every process (stages, materializer, registry, API) is SIGKILLed once,
 * in a random order, after a random pause of up to `maxPauseMs`, and started again at once (the
 * next kill does not wait for it to be ready: a kill may land while another process restores).
 */
export async function sigkillRounds(
  stack: ChaosStack,
  opts: { rounds: number; maxPauseMs: number; log: Log },
): Promise<string> {
  let kills = 0;
  const pending = new Map<ProcessName, Promise<void>>();
  for (let r = 0; r < opts.rounds; r++) {
    const order = [...PROCESSES].sort(() => Math.random() - 0.5);
    for (const name of order) {
      await sleep(Math.random() * opts.maxPauseMs);
      await pending.get(name);
      const s = stack.service(name);
      const t0 = performance.now();
      await s.kill();
      s.spawn();
      kills++;
      const back = s
        .readyOrRestart()
        .then(() =>
          opts.log(`SIGKILL ${name} (round ${r + 1}); back in ${((performance.now() - t0) / 1000).toFixed(1)} s`),
        );
      // awaited below; a failure must not become an unhandled rejection meanwhile
      back.catch(() => undefined);
      pending.set(name, back);
    }
  }
  await Promise.all(pending.values());
  return `${kills} SIGKILLs (${opts.rounds} × ${PROCESSES.length} processes)`;
}

/** PostgreSQL stopped (`pg_ctl stop -m fast`: every connection cut) for `ms`, then started again. */
export async function postgresDown(stack: ChaosStack, ms: number, log: Log): Promise<string> {
  await stack.stopPostgres();
  log(`PostgreSQL stopped for ${ms / 1000} s`);
  await sleep(ms);
  await stack.startPostgres();
  log('PostgreSQL started again');
  return `PostgreSQL down ${ms / 1000} s`;
}

/** The embedder gone (connection refused) for `ms`, then back. */
export async function embedderDown(stack: ChaosStack, ms: number, log: Log): Promise<string> {
  await stack.embedder.down();
  log(`embedder down for ${ms / 1000} s`);
  await sleep(ms);
  await stack.embedder.up();
  log('embedder up again');
  return `embedder down ${ms / 1000} s`;
}

/** The schema registry stopped (SIGTERM) and started again, `times` times. */
export async function registryRestarts(stack: ChaosStack, times: number, pauseMs: number, log: Log): Promise<string> {
  const s = stack.service('registry');
  for (let i = 0; i < times; i++) {
    await sleep(pauseMs);
    await s.stop();
    await s.start();
    log(`registry restarted (${i + 1}/${times})`);
  }
  return `registry restarted ${times}×`;
}

/**
 * Each of `targets`, in a random order, frozen (SIGSTOP) for `freezeMs`, longer than its session
 * timeout, then resumed (SIGCONT): what a long GC pause, a swapped-out process or a starved CPU
 * does. The group evicts it while it holds batches; on resume it finishes them and commits before
 * it learns it is no longer a member (the `bench e2e` run at load 45 lost the index stage's
 * membership this way). A harness that dies meanwhile resumes its children (they are SIGKILLed).
 */
export async function freezeStages(
  stack: ChaosStack,
  opts: { targets: readonly ProcessName[]; freezeMs: number; pauseMs: number; log: Log },
): Promise<string> {
  const order = [...opts.targets].sort(() => Math.random() - 0.5);
  for (const name of order) {
    await sleep(opts.pauseMs);
    const pid = stack.service(name).pid;
    if (pid === undefined) throw new Error(`${name} is not running`);
    const resume = () => {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {}
    };
    process.once('exit', resume);
    process.kill(pid, 'SIGSTOP');
    opts.log(`${name} frozen (SIGSTOP) for ${opts.freezeMs / 1000} s`);
    try {
      await sleep(opts.freezeMs);
    } finally {
      resume();
      process.off('exit', resume);
    }
    opts.log(`${name} resumed (SIGCONT)`);
  }
  return `${order.length} processes frozen ${opts.freezeMs / 1000} s each (${order.join(', ')})`;
}

/** A stage scaled 1 → `to` → 1 instances (extra instances join its group, then leave with SIGTERM), `cycles` times. */
export async function rebalanceStorm(
  stack: ChaosStack,
  opts: { stage?: Exclude<StageName, 'index'>; to: number; cycles: number; holdMs: number; log: Log },
): Promise<string> {
  // not the index stage: one writer per generation holds its lock (a second instance refuses to start)
  const stage = opts.stage ?? pick(['classify', 'cluster', 'embed'] as const);
  for (let c = 0; c < opts.cycles; c++) {
    const extra = await Promise.all(Array.from({ length: opts.to - 1 }, (_, i) => stack.addInstance(stage, i + 1)));
    opts.log(`${stage}: 1 → ${opts.to} instances (cycle ${c + 1})`);
    await sleep(opts.holdMs);
    for (const s of extra) {
      await s.stop();
      s.close();
      stack.extras.delete(s.spec.name);
    }
    opts.log(`${stage}: ${opts.to} → 1 instance`);
  }
  return `${stage} scaled 1→${opts.to}→1, ${opts.cycles}×`;
}

/** A broker SIGKILLed, left down for `ms`, started again (waits until all three are registered). */
export async function brokerKill(stack: ChaosStack, ms: number, log: Log): Promise<string> {
  const c = stack.cluster;
  if (!c) throw new Error('broker scenarios need the run’s own cluster');
  const id = 1 + Math.floor(Math.random() * 3);
  await c.kill(id);
  log(`broker ${id} SIGKILLed; down for ${ms / 1000} s`);
  await sleep(ms);
  await c.startNode(id);
  log(`broker ${id} back`);
  return `broker ${id} SIGKILLed for ${ms / 1000} s`;
}

/** Each broker in turn: controlled shutdown, start, wait until the cluster has three again. */
export async function rollingRestart(stack: ChaosStack, pauseMs: number, log: Log): Promise<string> {
  const c = stack.cluster;
  if (!c) throw new Error('broker scenarios need the run’s own cluster');
  for (const id of [1, 2, 3]) {
    await c.stopNode(id);
    log(`broker ${id} stopped (rolling restart)`);
    await sleep(pauseMs);
    await c.startNode(id);
    log(`broker ${id} back`);
  }
  return 'rolling restart of brokers 1, 2, 3';
}

/** Node 1 behind its proxy: no byte moves between it and anyone for `ms`. */
export async function networkStall(stack: ChaosStack, ms: number, log: Log): Promise<string> {
  const c = stack.cluster;
  if (!c) throw new Error('broker scenarios need the run’s own cluster');
  c.proxy.stall();
  log(`broker 1 stalled (proxy holds ${c.proxy.connections} connection(s) so far) for ${ms / 1000} s`);
  await sleep(ms);
  c.proxy.resume();
  log('broker 1 stall over');
  return `network stall of broker 1 for ${ms / 1000} s`;
}

/**
 * The index directory's file system filled (a filler file written until ENOSPC) for `ms`, then
 * the filler removed. A process that exited meanwhile is started again, as a supervisor would:
 * the exit is reported among the scenario's crashes.
 */
export async function diskFull(stack: ChaosStack, ms: number, log: Log): Promise<string> {
  // never fill a file system the run does not own: without its tmpfs this would fill the host's disk
  if (!stack.tmpfs)
    throw new Error(`disk-full needs the index directory on a tmpfs of its own (${stack.indexDir} is not)`);
  const filler = join(stack.indexDir, 'chaos-filler');
  const chunk = Buffer.alloc(1 << 20);
  let mb = 0;
  const fd = openSync(filler, 'w');
  try {
    for (;;) {
      writeSync(fd, chunk);
      mb++;
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    closeSync(fd);
  }
  log(`index file system full (${mb} MiB of filler) for ${ms / 1000} s`);
  await sleep(ms);
  rmSync(filler, { force: true });
  const index = stack.service('index');
  const exited = !index.running;
  if (exited) await index.start();
  log(`space back${exited ? '; the index stage had exited and was started again' : ''}`);
  return `index disk full ${ms / 1000} s${exited ? ' (index stage exited, restarted)' : ''}`;
}
