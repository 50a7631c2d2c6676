import { appendFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isRetriable } from '@feedlog/common';
import { tempDirs } from '@feedlog/test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { encodeEntry, readWal, WalWriter } from '../src/wal.ts';

/**
 * Disk full under the index WAL (issue #15, chaos scenario disk-full): a write that fails half-way
 * (ENOSPC) or a failed fsync left a partial frame in the append-only log; the next good frames were
 * appended after it and recovery, which stops at the first torn frame, dropped them all (4,895 of
 * 6,000 items at full scale). The failures are injected into node:fs here.
 */
const fault = vi.hoisted(() => ({
  /** bytes the next writeSync may still write before it fails with ENOSPC (undefined: no fault) */
  writeBudget: undefined as number | undefined,
  fsyncFails: 0,
  ftruncateFails: 0,
}));

vi.mock('node:fs', async (original) => {
  const real = await original<typeof import('node:fs')>();
  const enospc = (call: string) =>
    Object.assign(new Error(`ENOSPC: no space left on device, ${call}`), { code: 'ENOSPC', errno: -28, syscall: call });
  return {
    ...real,
    writeSync: ((fd: number, buf: Buffer, offset?: number | null, len?: number, pos?: number | null) => {
      const off = offset ?? 0;
      const want = len ?? buf.length - off;
      if (fault.writeBudget === undefined) return real.writeSync(fd, buf, off, want, pos);
      if (fault.writeBudget === 0) throw enospc('write');
      const n = Math.min(want, fault.writeBudget);
      fault.writeBudget -= n;
      return real.writeSync(fd, buf, off, n, pos);
    }) as typeof real.writeSync,
    fsyncSync: (fd: number) => {
      if (fault.fsyncFails > 0) {
        fault.fsyncFails--;
        throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO', syscall: 'fsync' });
      }
      real.fsyncSync(fd);
    },
    ftruncateSync: (fd: number, len?: number) => {
      if (fault.ftruncateFails > 0) {
        fault.ftruncateFails--;
        throw enospc('ftruncate');
      }
      real.ftruncateSync(fd, len);
    },
  };
});

const dims = 4;
const entry = (i: number) =>
  ({
    op: 'upsert',
    itemId: `item-${i}`,
    payload: { title: `headline ${i}` },
    vector: new Float32Array([i, i + 1, i + 2, i + 3]),
  }) as Parameters<typeof encodeEntry>[0];

const tmp = tempDirs('feedlog-wal-enospc-');
afterEach(() => {
  fault.writeBudget = undefined;
  fault.fsyncFails = 0;
  fault.ftruncateFails = 0;
});

function ids(file: string): string[] {
  return readWal(file, dims).entries.map((e) => e.itemId);
}

describe('WAL on a full disk', () => {
  it('a write that fails half-way leaves no torn frame: later appends survive recovery', () => {
    const file = join(tmp(), 'wal');
    const w = new WalWriter(file, 0);
    w.append([encodeEntry(entry(1))]);
    const good = w.end;
    fault.writeBudget = 10; // part of the header and body, then ENOSPC
    let err: unknown;
    try {
      w.append([encodeEntry(entry(2)), encodeEntry(entry(3))]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeDefined();
    expect(isRetriable(err)).toBe(true);
    expect(statSync(file).size).toBe(good);
    fault.writeBudget = undefined; // space back: the stage redoes the batch
    w.append([encodeEntry(entry(2)), encodeEntry(entry(3))]);
    w.append([encodeEntry(entry(4))]);
    w.close();
    expect(ids(file)).toEqual(['item-1', 'item-2', 'item-3', 'item-4']);
    expect(readWal(file, dims).end).toBe(statSync(file).size);
  });

  it('a failed fsync cuts the frame back; the retried batch is in the log once', () => {
    const file = join(tmp(), 'wal');
    const w = new WalWriter(file, 0);
    w.append([encodeEntry(entry(1))]);
    fault.fsyncFails = 1;
    expect(() => w.append([encodeEntry(entry(2))])).toThrow(/WAL append/);
    w.append([encodeEntry(entry(2))]);
    w.close();
    expect(ids(file)).toEqual(['item-1', 'item-2']);
  });

  it('when even the cut-back fails, the next append cuts first (and fails until it can)', () => {
    const file = join(tmp(), 'wal');
    const w = new WalWriter(file, 0);
    w.append([encodeEntry(entry(1))]);
    fault.writeBudget = 5;
    fault.ftruncateFails = 2; // the cut after the failed write, and the one of the next append
    expect(() => w.append([encodeEntry(entry(2))])).toThrow();
    fault.writeBudget = undefined;
    expect(() => w.append([encodeEntry(entry(3))])).toThrow();
    w.append([encodeEntry(entry(3))]);
    w.close();
    expect(ids(file)).toEqual(['item-1', 'item-3']);
  });

  it('recovery cuts a torn tail: a reopened writer continues on the last good frame', () => {
    const file = join(tmp(), 'wal');
    const w = new WalWriter(file, 0);
    w.append([encodeEntry(entry(1))]);
    w.close();
    // a crash mid-append (no cut-back ran): half a frame at the end
    const torn = encodeEntry(entry(2)).subarray(0, 12);
    appendFileSync(file, torn);
    const { end } = readWal(file, dims);
    const w2 = new WalWriter(file, end);
    w2.append([encodeEntry(entry(3))]);
    w2.close();
    expect(ids(file)).toEqual(['item-1', 'item-3']);
  });
});
