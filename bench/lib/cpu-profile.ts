// A CPU profile of one stretch of a benchmark (one variant), taken in-process through
// node:inspector, so seeding, module loading and the other variants stay out of it.
// Open the .cpuprofile in Chrome DevTools or summarise it with `node bench/lib/profile-summary.mjs`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';

/** Runs `fn` under the V8 sampling profiler when `dir` is set; writes `<dir>/<name>.cpuprofile`. */
export async function profiled<T>(dir: string | undefined, name: string, fn: () => Promise<T>): Promise<T> {
  if (!dir) return fn();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 500 });
  await session.post('Profiler.start');
  try {
    return await fn();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${name.replace(/[^\w.-]+/g, '_')}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    process.stderr.write(`cpu profile: ${file}\n`);
  }
}
