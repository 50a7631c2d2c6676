import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  runScenario,
  type Scale,
  type ScaleSettings,
  type Scenario,
  type ScenarioResult,
  scales,
  scenarios,
} from './scenarios.ts';
import { ChaosStack, type OwnKafka, type StackPorts } from './stack.ts';

/**
 * One chaos run: start the stack, run the chosen scenarios one after the other on it (each with
 * items of its own), stop the stack. Used by `feedlog chaos` and by the CI test.
 */
export interface ChaosRunOptions {
  scale: Scale;
  /** scenario names; default: every scenario (CI scale: those marked `ci`) */
  only?: string[];
  /** FEEDLOG_HOME of the run (default: a fresh temporary directory, removed afterwards) */
  home?: string;
  ports?: Partial<StackPorts>;
  /** overrides of the scale's settings (e.g. items, rate) */
  settings?: Partial<ScaleSettings>;
  /** scenarios that threw (never caught up…) are added here */
  errors?: string[];
  /** client port of the own cluster's node 1 (broker scenarios; default 39092) */
  kafkaPort?: number;
  log: (line: string) => void;
  /** keep the stack's directory (logs, PostgreSQL data, index) after the run */
  keep?: boolean;
}

export function selectScenarios(scale: Scale, only?: string[]) {
  if (only?.length) {
    const unknown = only.filter((n) => !scenarios.some((s) => s.name === n));
    if (unknown.length)
      throw new Error(`unknown scenario ${unknown.join(', ')} (known: ${scenarios.map((s) => s.name).join(', ')})`);
    return scenarios.filter((s) => only.includes(s.name));
  }
  return scale === 'ci' ? scenarios.filter((s) => s.ci) : scenarios;
}

export async function runChaos(o: ChaosRunOptions): Promise<ScenarioResult[]> {
  const chosen = selectScenarios(o.scale, o.only);
  const results: ScenarioResult[] = [];
  // the environment's broker for most; a three-broker cluster of the run's own for the broker scenarios
  const onEnv = chosen.filter((s) => !s.ownKafka);
  const onOwn = chosen.filter((s) => s.ownKafka);
  if (onEnv.length) results.push(...(await runOnStack(o, onEnv, undefined)));
  if (onOwn.length) results.push(...(await runOnStack(o, onOwn, { port: o.kafkaPort ?? 39_092 })));
  return results;
}

async function runOnStack(o: ChaosRunOptions, chosen: Scenario[], ownKafka: OwnKafka | undefined) {
  const home = o.home
    ? join(o.home, ownKafka ? 'own-kafka' : 'env-kafka')
    : mkdtempSync(join(tmpdir(), 'feedlog-chaos-'));
  mkdirSync(home, { recursive: true });
  const stack = new ChaosStack({
    home,
    log: o.log,
    ...(o.ports ? { ports: o.ports } : {}),
    ...(ownKafka ? { ownKafka } : {}),
    // room for the index of every scenario of the run (64-dimension vectors), filled up by disk-full
    ...(chosen.some((s) => s.tmpfsIndex) ? { indexTmpfsMb: 256 } : {}),
  });
  const results: ScenarioResult[] = [];
  let failed = true;
  try {
    await stack.start();
    for (const s of chosen) {
      o.log(`— scenario ${s.name}: ${s.fault}`);
      try {
        const r = await runScenario(stack, s, { ...scales[o.scale], ...o.settings }, o.log);
        results.push(r);
        // each row as soon as it is known: a long run stopped half-way still has its figures
        o.log(`result ${JSON.stringify(r)}`);
      } catch (e) {
        // a scenario that never recovers is a finding: said, and the next one still runs
        failed = true;
        o.errors?.push(`${s.name}: ${(e as Error).message}`);
        o.log(`scenario ${s.name} FAILED: ${(e as Error).stack ?? e}`);
      }
    }
    if (!o.errors?.length) failed = false;
  } finally {
    await stack.stop();
    // a failed run keeps its logs (each process's, under <home>/logs) for the report
    if (!o.home && !o.keep && !failed) {
      stack.removeData();
      rmSync(home, { recursive: true, force: true });
    } else o.log(`logs and data kept in ${home}`);
  }
  return results;
}
