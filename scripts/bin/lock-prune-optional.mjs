#!/usr/bin/env node
// The registry mirror these machines use serves no builds of some platform-only optional
// packages (biome/turbo for android, darwin, win32, musl). `npm install` then records the parent's
// optionalDependencies without lock entries, and `npm ci` refuses that lock (npm/cli#4828).
// This drops such dangling optional names from the lock, so `npm ci` installs exactly what the
// Linux build uses. Run it after every `npm install`: `npm run lock:fix`. Prints what it removed;
// `--check` exits 1 instead of writing when something would change (used by the unit test).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const file = join(process.argv.find((a) => a.startsWith('--root='))?.slice(7) ?? process.cwd(), 'package-lock.json');
const lock = JSON.parse(readFileSync(file, 'utf8'));
const packages = lock.packages ?? {};

/** Node's resolution: the nearest node_modules/<name> at or above `path`. */
function resolves(path, name) {
  let base = path;
  for (;;) {
    if (packages[`${base ? `${base}/` : ''}node_modules/${name}`]) return true;
    if (!base) return false;
    const i = base.lastIndexOf('/node_modules/');
    base = i === -1 ? '' : base.slice(0, i);
  }
}

const removed = [];
for (const [path, entry] of Object.entries(packages)) {
  const opt = entry.optionalDependencies;
  if (!opt) continue;
  for (const name of Object.keys(opt)) {
    if (!resolves(path, name)) {
      delete opt[name];
      removed.push(`${path || '<root>'} → ${name}`);
    }
  }
  if (Object.keys(opt).length === 0) delete entry.optionalDependencies;
}

if (process.argv.includes('--check')) {
  if (removed.length) {
    console.error(
      `package-lock.json names optional packages it has no entry for (npm ci will refuse it):\n  ${removed.join('\n  ')}\nrun: npm run lock:fix`,
    );
    process.exit(1);
  }
  process.exit(0);
}
if (removed.length) writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(
  removed.length
    ? `removed ${removed.length} dangling optional dependencies:\n  ${removed.join('\n  ')}`
    : 'lock is consistent',
);
