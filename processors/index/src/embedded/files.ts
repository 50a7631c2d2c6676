import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Durable file writes for the writer (synchronous on purpose: a write is acknowledged only once
 * it is on disk, and the writer is the index stage, not a request handler) and ENOENT-tolerant
 * reads in both flavours (sync for the writer's open, fs/promises for the search path).
 */

export function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // some filesystems refuse fsync on a directory; rename is still atomic
  }
}

/** write a file and fsync it */
export function writeDurable(file: string, data: Buffer | Uint8Array | string): void {
  const fd = openSync(file, 'w');
  try {
    writeFileSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** write a file atomically: temp + fsync + rename + fsync dir */
export function writeAtomic(file: string, data: string | Buffer): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeDurable(tmp, data);
  renameSync(tmp, file);
  fsyncDir(join(file, '..'));
}

export const seqName = (prefix: string, seq: number, ext = '') => `${prefix}-${String(seq).padStart(6, '0')}${ext}`;

const missing = (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOENT';

export function readIfExistsSync(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch (e) {
    if (missing(e)) return undefined;
    throw e;
  }
}

export async function readIfExists(file: string): Promise<Buffer | undefined> {
  try {
    return await readFile(file);
  } catch (e) {
    if (missing(e)) return undefined;
    throw e;
  }
}
