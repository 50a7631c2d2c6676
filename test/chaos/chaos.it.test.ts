// Issue 15, chaos suite at CI scale: one stack of child processes (PostgreSQL of its own, the
// registry, four stages, the materializer, the API; the environment's Kafka under a topic prefix),
// then the SIGKILL, poison and PostgreSQL-down scenarios on it, each under load through the API,
// each checked for loss, duplicates and dead letters once every group's lag is back to zero.
// `feedlog chaos --scale full` runs every scenario at the large scale by hand (bench/RESULTS.md).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScenario, type ScenarioResult, scales, scenarios } from './scenarios.ts';
import { ChaosStack, PROCESSES } from './stack.ts';
import { formatTable } from './table.ts';

const log = (s: string) => process.stderr.write(`[chaos] ${s}\n`);
const scale = scales.ci;

describe('the pipeline under faults (chaos suite, CI scale)', () => {
  const home = mkdtempSync(join(tmpdir(), 'feedlog-chaos-it-'));
  const stack = new ChaosStack({ home, log });
  const results: ScenarioResult[] = [];
  let failed = false;

  beforeAll(async () => {
    await stack.start();
  });

  afterAll(async () => {
    if (results.length) log(`\n${formatTable(results)}`);
    await stack.stop();
    if (failed) log(`process logs kept in ${stack.logDir}`);
    else {
      stack.removeData();
      rmSync(home, { recursive: true, force: true });
    }
  });

  const run = async (name: string): Promise<ScenarioResult> => {
    const scenario = scenarios.find((s) => s.name === name);
    if (!scenario) throw new Error(`no scenario ${name}`);
    failed = true;
    const r = await runScenario(stack, scenario, scale, log);
    results.push(r);
    log(`${name}: ${r.did}; examples: ${r.examples.join(', ') || 'none'}`);
    expect(r.pushed).toBeGreaterThanOrEqual(scale.items);
    expect(r.lost, r.examples.join(', ')).toBe(0);
    expect(r.duplicates, r.examples.join(', ')).toBe(0);
    expect(r.inPostgres).toBe(r.pushed);
    expect(r.inIndex).toBe(r.pushed);
    expect(r.dlqUnexpected, r.examples.join(', ')).toBe(0);
    expect(r.crashes).toEqual([]);
    failed = false;
    return r;
  };

  it('SIGKILL of every process at random times: nothing lost, nothing doubled', async () => {
    const kills = () => PROCESSES.reduce((n, p) => n + stack.service(p).kills, 0);
    const before = kills();
    await run('sigkill');
    expect(kills() - before).toBe(PROCESSES.length * scale.sigkillRounds);
  }, 300_000);

  it('a poison flood (5 %): exactly the poison dead-lettered, by each consumer of raw-headlines', async () => {
    const r = await run('poison');
    // classify and the materializer both read raw-headlines: each dead-letters every poison record once
    expect(r.dlq).toBe(2 * Math.ceil((scale.items * 0.05) / 10) * 10);
  }, 240_000);

  it('PostgreSQL stopped and started under load: nothing lost, nothing doubled', async () => {
    await run('postgres-down');
  }, 240_000);
});
