import { join } from 'node:path';
import { externalAddress, freePort, httpGet, spawnTs, waitHttpOk } from '@feedlog/test';
import { describe, expect, it } from 'vitest';

// runProcess, the one life cycle of every feedlog service, as a real process: health, readiness
// and metrics on loopback, SIGTERM exits 0, a hung shutdown is cut at SHUTDOWN_DEADLINE_MS.
const entry = join(import.meta.dirname, 'fixtures/service-main.ts');

async function startFixture(extra: NodeJS.ProcessEnv) {
  const healthPort = await freePort();
  const metricsPort = await freePort();
  const s = spawnTs(entry, {
    ...process.env,
    HEALTH_PORT: String(healthPort),
    METRICS_PORT: String(metricsPort),
    ...extra,
  });
  await waitHttpOk(s, `http://127.0.0.1:${healthPort}/readyz`);
  return { s, healthPort, metricsPort };
}

describe('runProcess life cycle', () => {
  it('answers /healthz, /readyz and /metrics on loopback only; SIGTERM exits 0 well within the deadline', async () => {
    const { s, healthPort, metricsPort } = await startFixture({ SHUTDOWN_DEADLINE_MS: '5000', FIXTURE_STOP: 'slow' });
    const healthz = await httpGet(`http://127.0.0.1:${healthPort}/healthz`);
    expect(healthz?.status).toBe(200);
    expect(JSON.parse(healthz!.body)).toMatchObject({ status: 'ready', live: true, ready: true });
    for (const port of [healthPort, metricsPort]) {
      const m = await httpGet(`http://127.0.0.1:${port}/metrics`);
      expect(m?.status).toBe(200);
      expect(m?.body).toContain('process_cpu_user_seconds_total');
    }
    const ext = externalAddress();
    if (ext) {
      // bound to 127.0.0.1: the machine's other address gets no answer
      expect(await httpGet(`http://${ext}:${healthPort}/healthz`, 1_000)).toBeUndefined();
      expect(await httpGet(`http://${ext}:${metricsPort}/metrics`, 1_000)).toBeUndefined();
    }
    const t0 = performance.now();
    s.child.kill('SIGTERM');
    const { code } = await s.exited;
    const ms = performance.now() - t0;
    expect(code, s.output()).toBe(0);
    expect(ms).toBeLessThan(5_000);
    expect(s.output()).toContain('"event":"stopped"');
  });

  it('a shutdown that hangs is cut at SHUTDOWN_DEADLINE_MS with exit 1', async () => {
    const { s } = await startFixture({ SHUTDOWN_DEADLINE_MS: '1500', FIXTURE_STOP: 'hang' });
    const t0 = performance.now();
    s.child.kill('SIGTERM');
    const { code } = await s.exited;
    const ms = performance.now() - t0;
    expect(code, s.output()).toBe(1);
    expect(ms).toBeGreaterThanOrEqual(1_400);
    expect(ms).toBeLessThan(1_500 + 5_000);
    expect(s.output()).toContain('killed by timeout');
    expect(s.output()).not.toContain('"event":"stopped"');
  });

  it('a bad configuration is one line and exit 1, before anything listens', async () => {
    const s = spawnTs(entry, { ...process.env, API_PORT: 'eighty', HEALTH_PORT: String(await freePort()) });
    const { code } = await s.exited;
    expect(code).toBe(1);
    expect(s.output()).toMatch(/"event":"failed".*API_PORT|api\.port/);
    expect(s.output()).not.toMatch(/\n\s+at /); // no stack for a configuration mistake
  });
});
