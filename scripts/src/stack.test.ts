import { loadConfig } from '@feedlog/common';
import { describe, expect, it } from 'vitest';
import { nodeServices, stackComponents } from './stack.ts';

// What `feedlog status` says of a service is what its probe answers: every service `up` starts
// must be probed on /readyz (runProcess serves it), each on a port of its own.
describe('the services of feedlog up', () => {
  const config = loadConfig({ FEEDLOG_HOME: '/nonexistent/feedlog-home', STAGE_PORT_BASE: '49300' });
  const services = nodeServices(config);

  it('are every feedlog service, each probed on /readyz', () => {
    expect(services.map((s) => s.name)).toEqual([
      'registry',
      'embedder',
      'classify',
      'cluster',
      'embed',
      'index',
      'materialize',
      'poller',
      'api',
    ]);
    for (const s of services) expect(s.health, s.name).toBe('/readyz');
  });

  it('listen on ports of their own (health and metrics alike)', () => {
    const ports = services.flatMap((s) => [s.port, ...(s.env?.METRICS_PORT ? [Number(s.env.METRICS_PORT)] : [])]);
    expect(new Set(ports).size).toBe(ports.length);
    for (const s of services) if (s.env?.HEALTH_PORT) expect(Number(s.env.HEALTH_PORT), s.name).toBe(s.port);
  });

  it('are what the stack starts and reports, in start order after the infrastructure', () => {
    const names = stackComponents(config).map((c) => c.name);
    expect(names.slice(0, 5)).toEqual(['postgres', 'kafka', 'registry', 'embedder', 'bootstrap']);
    for (const s of services) expect(names, s.name).toContain(s.name);
  });
});
