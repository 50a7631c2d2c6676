// The load generators of bench/search.ts: closed loop (autocannon), open loop (a small fetch loop
// at even intervals), sequential in-process timings, and their result rows.
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';

export const pct = (xs: number[], p: number) => {
  if (xs.length === 0) return Number.NaN;
  const s = Float64Array.from(xs).sort();
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
};

export interface Row {
  run: string;
  what: string;
  concurrency: number;
  /** offered load of an open-loop run (req/s over all clients); null: closed loop (each client sends as soon as answered) */
  offered: number | null;
  requests: number;
  rps: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
  errors: number;
  /** CPU ms of the serving process per answered request (null: not measured) */
  cpuMsPerRequest: number | null;
}

/** autocannon with a different path per request; latencies of 2xx answers from its 'response' event. */
export async function load(
  url: string,
  next: () => { path: string; method?: 'GET' | 'POST'; body?: string },
  seconds: number,
  headers: Record<string, string>,
  connections: number,
): Promise<{
  lat: number[];
  requests: number;
  errors: number;
  seconds: number;
  connections: number;
  rate: number | undefined;
}> {
  const lat: number[] = [];
  let errors = 0;
  const t0 = performance.now();
  let done!: (r: autocannon.Result) => void;
  let failed!: (e: Error) => void;
  const finished = new Promise<autocannon.Result>((res, rej) => {
    done = res;
    failed = rej;
  });
  const instance = autocannon(
    {
      url,
      connections,
      duration: seconds,
      headers,
      requests: [
        {
          setupRequest: (req) => {
            const n = next();
            return { ...req, path: n.path, method: n.method ?? 'GET', ...(n.body ? { body: n.body } : {}) };
          },
        },
      ],
    },
    (err, result) => (err ? failed(err) : done(result)),
  );
  instance.on('response', (_client, status, _bytes, ms) => {
    if (status >= 200 && status < 300) lat.push(ms);
    else errors++;
  });
  const r = await finished;
  return {
    lat,
    requests: lat.length + errors,
    errors: errors + r.errors + r.timeouts,
    seconds: (performance.now() - t0) / 1000,
    connections,
    rate: undefined,
  };
}

/**
 * Open loop: request i is due at t0 + i / rate; it waits for one of `clients` slots; its latency
 * runs from its due time to the end of the answer's body.
 */
export async function openLoop(
  base: string,
  next: () => { path: string },
  seconds: number,
  headers: Record<string, string>,
  clients: number,
  rate: number,
): Promise<Awaited<ReturnType<typeof load>>> {
  const lat: number[] = [];
  let errors = 0;
  let inFlight = 0;
  const waiting: (() => void)[] = [];
  const pending = new Set<Promise<void>>();
  const t0 = performance.now();
  const total = Math.round(seconds * rate);
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const { path } = next();
    const p = (async () => {
      while (inFlight >= clients) await new Promise<void>((r) => waiting.push(r));
      inFlight++;
      try {
        const res = await fetch(base + path, { headers });
        await res.arrayBuffer();
        if (res.ok) lat.push(performance.now() - due);
        else errors++;
      } catch {
        errors++;
      } finally {
        inFlight--;
        waiting.shift()?.();
      }
    })();
    pending.add(p);
    p.finally(() => pending.delete(p));
  }
  await Promise.all(pending);
  return {
    lat,
    requests: lat.length + errors,
    errors,
    seconds: (performance.now() - t0) / 1000,
    connections: clients,
    rate,
  };
}

export function row(run: string, what: string, r: Awaited<ReturnType<typeof load>>, cpuMs: number | null = null): Row {
  return {
    cpuMsPerRequest: cpuMs === null ? null : cpuMs / Math.max(1, r.lat.length),
    run,
    what,
    concurrency: r.connections,
    offered: r.rate ?? null,
    requests: r.requests,
    rps: r.lat.length / r.seconds,
    p50: pct(r.lat, 50),
    p90: pct(r.lat, 90),
    p95: pct(r.lat, 95),
    p99: pct(r.lat, 99),
    max: Math.max(...r.lat),
    errors: r.errors,
  };
}

/** sequential in-process timings: n calls of f, latencies in ms */
export async function sequential(n: number, f: (i: number) => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    await f(i);
    out.push(performance.now() - s);
  }
  return out;
}

export function seqRow(run: string, what: string, lat: number[]): Row {
  const total = lat.reduce((a, b) => a + b, 0) / 1000;
  return {
    run,
    what,
    concurrency: 1,
    offered: null,
    requests: lat.length,
    rps: lat.length / total,
    p50: pct(lat, 50),
    p90: pct(lat, 90),
    p95: pct(lat, 95),
    p99: pct(lat, 99),
    max: Math.max(...lat),
    errors: 0,
    cpuMsPerRequest: null,
  };
}
