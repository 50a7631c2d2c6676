// One writer per generation: a second process cannot write a generation a live process holds;
// a lock left by a dead process is taken over; readers are never refused.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { tempDirs } from '@feedlog/test';
import { describe, expect, it } from 'vitest';
import { EmbeddedIndex, IndexLockedError } from '../src/embedded.ts';
import { IndexUsageError } from '../src/types.ts';

const dims = 8;
const holder = resolve(import.meta.dirname, 'fixtures/hold-writer.ts');
const tmp = tempDirs('feedlog-lock-');

const point = (id: string) => ({
  itemId: id,
  vector: Array.from({ length: dims }, (_, i) => (i === 1 ? 1 : 0.1)),
  payload: { title: id, url: `u/${id}`, source: 's', category: 'c', story_id: 'st', published_at: 0 },
});

async function startHolder(dir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', holder, dir, String(dims)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const [line] = (await once(lines, 'line')) as [string];
  expect(line).toBe('holding');
  return child;
}

describe('writer lock', () => {
  it('refuses a second writer while the holding process lives, names its pid; readers still read', async () => {
    const dir = tmp();
    const child = await startHolder(dir);
    try {
      const lockFile = join(dir, 'headlines_g1', 'WRITER.lock');
      expect(Number(readFileSync(lockFile, 'utf8'))).toBe(child.pid);
      const second = new EmbeddedIndex({ dir });
      const err = await second.upsert(1, [point('mine')]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IndexLockedError);
      // retried by the index stage (breaker), not dead-lettered: the holder may be a writer still closing
      expect(err).not.toBeInstanceOf(IndexUsageError);
      expect((err as IndexLockedError).pid).toBe(child.pid);
      expect(String(err)).toMatch(/one writer per generation/);
      const reader = new EmbeddedIndex({ dir, readOnly: true });
      expect(await reader.count(1)).toBe(1);
      await reader.close();
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    // the holder died without releasing: its lock is stale and is taken over; its write survived
    const next = new EmbeddedIndex({ dir });
    await next.upsert(1, [point('after')]);
    expect(await next.count(1)).toBe(2);
    expect(Number(readFileSync(join(dir, 'headlines_g1', 'WRITER.lock'), 'utf8'))).toBe(process.pid);
    await next.close();
  });

  it('takes over a lock naming a dead pid, and releases it on close', async () => {
    const dir = tmp();
    const idx = new EmbeddedIndex({ dir });
    await idx.ensureGeneration(1, dims, 'cosine');
    // a pid no process has: beyond the kernel's pid_max
    writeFileSync(join(dir, 'headlines_g1', 'WRITER.lock'), '4194305\n');
    await idx.upsert(1, [point('a')]);
    expect(await idx.count(1)).toBe(1);
    await idx.close();
    expect(() => readFileSync(join(dir, 'headlines_g1', 'WRITER.lock'))).toThrow(/ENOENT/);
  });
});
