import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runScenario, type Scale, type ScenarioResult, scales, scenarios } from './scenarios.ts';
import { ChaosStack, type StackPorts } from './stack.ts';

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
  const home = o.home ?? mkdtempSync(join(tmpdir(), 'feedlog-chaos-'));
  const stack = new ChaosStack({ home, log: o.log, ...(o.ports ? { ports: o.ports } : {}) });
  const results: ScenarioResult[] = [];
  let failed = true;
  try {
    await stack.start();
    for (const s of chosen) {
      o.log(`— scenario ${s.name}: ${s.fault}`);
      results.push(await runScenario(stack, s, scales[o.scale], o.log));
    }
    failed = false;
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
