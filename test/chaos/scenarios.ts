import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  brokerKill,
  diskFull,
  embedderDown,
  freezeStages,
  type Log,
  networkStall,
  postgresDown,
  rebalanceStorm,
  registryRestarts,
  rollingRestart,
  sigkillRounds,
} from './faults.ts';
import { checkInvariants, LagWatch, type Verdict } from './invariants.ts';
import { Pusher, producePoison, Reader } from './load.ts';
import { type ChaosStack, STAGES } from './stack.ts';

/**
 * The scenarios and the runner: load starts, the fault is injected and healed while the load
 * goes on, then the runner waits until every group's lag is zero and checks the invariants.
 */
export type Scale = 'ci' | 'full';

export interface ScaleSettings {
  /** items pushed through the API per scenario, and at what rate */
  items: number;
  rate: number;
  batch: number;
  sigkillRounds: number;
  postgresDownMs: number;
  embedderDownMs: number;
  registryRestarts: number;
  stormCycles: number;
  brokerDownMs: number;
  stallMs: number;
  /** how long each stage process stays frozen (SIGSTOP; the stages' session timeout is 6 s) */
  freezeMs: number;
  /** how long the stack may take to drain after the heal */
  catchUpMs: number;
}

export const scales: Record<Scale, ScaleSettings> = {
  ci: {
    items: 600,
    rate: 60,
    batch: 30,
    sigkillRounds: 1,
    postgresDownMs: 8_000,
    embedderDownMs: 8_000,
    registryRestarts: 1,
    stormCycles: 1,
    brokerDownMs: 10_000,
    stallMs: 10_000,
    freezeMs: 10_000,
    catchUpMs: 120_000,
  },
  full: {
    items: 6_000,
    rate: 100,
    batch: 100,
    sigkillRounds: 3,
    postgresDownMs: 30_000,
    embedderDownMs: 60_000,
    registryRestarts: 3,
    stormCycles: 2,
    brokerDownMs: 30_000,
    stallMs: 30_000,
    freezeMs: 12_000,
    catchUpMs: 600_000,
  },
};

export interface ScenarioContext {
  stack: ChaosStack;
  scale: ScaleSettings;
  pusher: Pusher;
  log: Log;
  /** run tag: part of every item id of this scenario */
  run: string;
  /** poison keys the scenario injected (the DLQ must hold exactly these) */
  poison: string[];
}

export interface Scenario {
  name: string;
  /** one line: what the fault is */
  fault: string;
  /** runs in `npm test` (CI scale) */
  ci: boolean;
  /** needs a three-broker cluster of the run's own (the broker scenarios) */
  ownKafka?: boolean;
  /** needs the index directory on a small tmpfs (root) */
  tmpfsIndex?: boolean;
  inject(ctx: ScenarioContext): Promise<string>;
}

/** Waits until a share of the load has been acknowledged, so the fault lands mid-stream. */
async function loadUnderway(ctx: ScenarioContext, share = 0.2): Promise<void> {
  while (ctx.pusher.pushed < ctx.scale.items * share) await sleep(100);
}

export const scenarios: Scenario[] = [
  {
    name: 'sigkill',
    fault: 'SIGKILL of each stage, the materializer, the registry and the API at random times, repeatedly',
    ci: true,
    async inject(ctx) {
      await loadUnderway(ctx, 0.1);
      const pause = ((ctx.scale.items / ctx.scale.rate) * 1_000) / (7 * ctx.scale.sigkillRounds);
      return sigkillRounds(ctx.stack, { rounds: ctx.scale.sigkillRounds, maxPauseMs: pause, log: ctx.log });
    },
  },
  {
    name: 'poison',
    fault: 'poison flood: 5 % undecodable records among the valid ones',
    ci: true,
    async inject(ctx) {
      // in ten waves, while the valid items flow
      const total = Math.round(ctx.scale.items * 0.05);
      for (let w = 0; w < 10; w++) {
        await loadUnderway(ctx, w / 10);
        const keys = await producePoison(ctx.stack.kafka, ctx.stack.prefix, `${ctx.run}-${w}`, Math.ceil(total / 10));
        ctx.poison.push(...keys);
      }
      return `${ctx.poison.length} poison records`;
    },
  },
  {
    name: 'postgres-down',
    fault: 'PostgreSQL stopped, then started',
    ci: true,
    async inject(ctx) {
      await loadUnderway(ctx, 0.2);
      return postgresDown(ctx.stack, ctx.scale.postgresDownMs, ctx.log);
    },
  },
  {
    name: 'embedder-down',
    fault: 'the embedder stopped, then started',
    ci: false,
    async inject(ctx) {
      await loadUnderway(ctx, 0.2);
      return embedderDown(ctx.stack, ctx.scale.embedderDownMs, ctx.log);
    },
  },
  {
    name: 'registry-restart',
    fault: 'the schema registry restarted',
    ci: false,
    async inject(ctx) {
      await loadUnderway(ctx, 0.1);
      const pause = ((ctx.scale.items / ctx.scale.rate) * 1_000) / (ctx.scale.registryRestarts + 1);
      return registryRestarts(ctx.stack, ctx.scale.registryRestarts, pause, ctx.log);
    },
  },
  {
    name: 'rebalance-storm',
    fault: 'a stage scaled 1 → 4 → 1 instances under load',
    ci: false,
    async inject(ctx) {
      await loadUnderway(ctx, 0.1);
      const hold = ((ctx.scale.items / ctx.scale.rate) * 1_000) / (2 * ctx.scale.stormCycles + 1);
      return rebalanceStorm(ctx.stack, {
        stage: 'classify',
        to: 4,
        cycles: ctx.scale.stormCycles,
        holdMs: hold,
        log: ctx.log,
      });
    },
  },
  {
    name: 'freeze',
    fault: 'each stage and the materializer frozen (SIGSTOP) past its session timeout, then resumed',
    ci: false,
    async inject(ctx) {
      await loadUnderway(ctx, 0.1);
      const targets = [...STAGES, 'materialize'] as const;
      // the frozen spans and the gaps between them fill the load's duration
      const total = (ctx.scale.items / ctx.scale.rate) * 1_000;
      const pauseMs = Math.max(1_000, (total - targets.length * ctx.scale.freezeMs) / (targets.length + 1));
      return freezeStages(ctx.stack, { targets, freezeMs: ctx.scale.freezeMs, pauseMs, log: ctx.log });
    },
  },
  {
    name: 'disk-full',
    fault: 'disk full on the index directory (a tmpfs filled up), then space freed',
    ci: false,
    tmpfsIndex: true,
    async inject(ctx) {
      await loadUnderway(ctx, 0.2);
      return diskFull(ctx.stack, ctx.scale.stallMs, ctx.log);
    },
  },
  {
    name: 'network-stall',
    fault: 'a network stall between every client and one broker (a TCP proxy on loopback)',
    ci: false,
    ownKafka: true,
    async inject(ctx) {
      await loadUnderway(ctx, 0.2);
      return networkStall(ctx.stack, ctx.scale.stallMs, ctx.log);
    },
  },
  {
    name: 'broker-kill',
    fault: 'a broker SIGKILLed and restarted (3 brokers, RF 3, min.insync.replicas 2)',
    ci: false,
    ownKafka: true,
    async inject(ctx) {
      await loadUnderway(ctx, 0.2);
      return brokerKill(ctx.stack, ctx.scale.brokerDownMs, ctx.log);
    },
  },
  {
    name: 'rolling-restart',
    fault: 'a rolling restart of the three brokers',
    ci: false,
    ownKafka: true,
    async inject(ctx) {
      await loadUnderway(ctx, 0.1);
      return rollingRestart(ctx.stack, 2_000, ctx.log);
    },
  },
];

export interface ScenarioResult extends Verdict {
  scenario: string;
  fault: string;
  did: string;
  /** the highest total lag seen over the stack's groups (records) */
  maxLag: number;
  /** heal → every group's lag zero (the load may still have been running after the heal) */
  recoveryMs: number;
  readsOk: number;
  readsFailed: number;
  /** processes that exited without being killed (a crash the fault caused) */
  crashes: string[];
  seconds: number;
}

export async function runScenario(
  stack: ChaosStack,
  scenario: Scenario,
  scale: ScaleSettings,
  log: Log,
): Promise<ScenarioResult> {
  const t0 = performance.now();
  const run = `${scenario.name}-${randomBytes(3).toString('hex')}`;
  const pusher = new Pusher(stack.apiBase, stack.apiKey, run, {
    total: scale.items,
    ratePerSec: scale.rate,
    batch: scale.batch,
  });
  const reader = new Reader(stack.apiBase, stack.apiKey, () => [...pusher.stats.acked].slice(-500));
  const lag = new LagWatch(stack);
  const crashesBefore = new Map([...stack.services].map(([n, s]) => [n, s.unexpectedExits.length]));
  const ctx: ScenarioContext = { stack, scale, pusher, log, run, poison: [] };
  lag.start();
  reader.start();
  pusher.start();
  let did: string;
  try {
    did = await scenario.inject(ctx);
  } catch (e) {
    pusher.stop();
    throw e;
  }
  const healed = Date.now();
  log(`${scenario.name}: ${did}; healed, waiting for the load to finish and the lag to reach zero`);
  await pusher.finish();
  const waited = await lag.untilZero(scale.catchUpMs);
  const recoveryMs = Date.now() - healed;
  log(
    `${scenario.name}: caught up ${(recoveryMs / 1000).toFixed(1)} s after the heal (${waited} ms after the last push)`,
  );
  await reader.stop();
  await lag.close();
  const verdict = await checkInvariants(stack, pusher.stats.acked, ctx.poison, run);
  const crashes = [...stack.services].flatMap(([n, s]) =>
    s.unexpectedExits.slice(crashesBefore.get(n) ?? 0).map((x) => `${n}: ${x}`),
  );
  return {
    scenario: scenario.name,
    fault: scenario.fault,
    did,
    ...verdict,
    maxLag: lag.max,
    recoveryMs,
    readsOk: reader.ok,
    readsFailed: reader.failed,
    crashes,
    seconds: (performance.now() - t0) / 1000,
  };
}
