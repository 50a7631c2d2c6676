// Start-up of one stage process on a chosen Node and TypeScript loader: spawn it, wait for its
// /readyz, print the time to ready and its resident memory then, and kill it. Plain JavaScript so
// the driver itself runs the same on any Node (it is not what is measured).
//   node bench/stage-startup.mjs --node /usr/bin/node --ts tsx [--stage classify] [--runs 1] [--json]
//   --ts tsx        node --import tsx <entry>                          (esbuild loader; any Node)
//   --ts transform  node --experimental-transform-types <entry>       (Node ≥ 22.7, no loader)
// Needs KAFKA_BROKERS and SCHEMA_REGISTRY_URL of a stack whose topics exist (feedlog up). The stage
// joins its own consumer group (STAGE_GENERATION=990, override with --generation) so it does not
// disturb a running pipeline; on a stack with data it would start consuming, so use an idle stack.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: a } = parseArgs({
  options: {
    node: { type: 'string', default: process.execPath },
    ts: { type: 'string', default: 'tsx' },
    stage: { type: 'string', default: 'classify' },
    generation: { type: 'string', default: '990' },
    runs: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
});
const entry = join(root, `processors/${a.stage}/src/main.ts`);
const loader = {
  tsx: ['--import', 'tsx'],
  transform: ['--experimental-transform-types', '--disable-warning=ExperimentalWarning'],
}[a.ts];
if (!loader) throw new Error(`--ts must be tsx or transform, not ${a.ts}`);

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/** VmRSS and VmHWM of a live process, in MiB (Linux /proc). */
function memory(pid) {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? Number.NaN);
  return { rssMiB: kb('VmRSS') / 1024, peakMiB: kb('VmHWM') / 1024 };
}

async function once() {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(a.node, [...loader, entry], {
    cwd: root,
    env: { ...process.env, HEALTH_PORT: String(port), STAGE_GENERATION: a.generation },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise((r) => child.once('exit', r));
  let done = false;
  void exited.then(() => {
    done = true;
  });
  for (;;) {
    if (done) throw new Error(`the stage exited before it was ready:\n${stderr.slice(-2000)}`);
    if (performance.now() - t0 > 120_000) throw new Error('not ready within 120 s');
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`)
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const readyMs = performance.now() - t0;
  const mem = memory(child.pid);
  child.kill('SIGKILL');
  await exited;
  return { readyMs, ...mem };
}

const rows = [];
for (let i = 0; i < Number(a.runs); i++) rows.push(await once());
const version = (await import('node:child_process')).execFileSync(a.node, ['-v'], { encoding: 'utf8' }).trim();
const out = { node: version, ts: a.ts, stage: a.stage, runs: rows };
if (a.json) process.stdout.write(`${JSON.stringify(out)}\n`);
else
  for (const r of rows)
    process.stdout.write(
      `${a.stage} on Node ${version} (${a.ts}): ready in ${r.readyMs.toFixed(0)} ms, RSS ${r.rssMiB.toFixed(1)} MiB (peak ${r.peakMiB.toFixed(1)})\n`,
    );
