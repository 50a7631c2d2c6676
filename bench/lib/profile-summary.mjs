// Summarise a .cpuprofile (from bench/lib/cpu-profile.ts or node --cpu-prof): self time by
// package (kafkajs, the runtime, GC, node internals, ...) and the top self-time frames.
//   node bench/lib/profile-summary.mjs <file.cpuprofile> [top frames, default 25]
import { readFileSync } from 'node:fs';

const [file, topArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/lib/profile-summary.mjs <file.cpuprofile> [top]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
let total = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  total += dt;
  self.set(id, (self.get(id) ?? 0) + dt);
});

/** which package a frame belongs to */
function category(url, name) {
  if (name === '(garbage collector)') return 'GC';
  if (name === '(idle)') return 'idle';
  if (name === '(program)') return 'program';
  const pkg = url.match(/node_modules\/((@[^/]+\/)?[^/]+)/);
  if (pkg) return pkg[1];
  const own = url.match(/(processors|bench|api)\/([^/]+)/);
  if (own) return own[1] === 'processors' ? `@feedlog/${own[2]}` : own[1];
  return 'node/native';
}

const frames = new Map();
const categories = new Map();
for (const [id, t] of self) {
  const { functionName, url, lineNumber } = byId.get(id).callFrame;
  const where = (url || '').replace(/^.*\/(node_modules|processors|bench)\//, '$1/');
  const key = `${functionName || '(anonymous)'} ${where}:${lineNumber + 1}`;
  frames.set(key, (frames.get(key) ?? 0) + t);
  const c = category(url || '', functionName);
  categories.set(c, (categories.get(c) ?? 0) + t);
}
const busy = total - (categories.get('idle') ?? 0);
const ms = (us) => (us / 1e3).toFixed(0).padStart(7);
const pct = (us) => ((100 * us) / busy).toFixed(1).padStart(5);
console.log(`profiled ${(total / 1e6).toFixed(2)} s, busy (not idle) ${(busy / 1e6).toFixed(2)} s`);
for (const [c, t] of [...categories].sort((a, b) => b[1] - a[1]))
  console.log(`  ${c.padEnd(30)} ${ms(t)} ms ${pct(t)} %`);
console.log('top self-time frames (% of busy):');
const top = [...frames].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]);
for (const [k, t] of top.slice(0, Number(topArg ?? 25))) console.log(`  ${ms(t)} ms ${pct(t)} %  ${k}`);
