import { closeSync, fsyncSync, linkSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { IndexError } from '../types.ts';

/**
 * A second writer for a generation another live process is writing. Not a usage error: during a
 * restart the old writer may still be closing, so the index stage retries it (breaker) rather
 * than dead-lettering the batch.
 */
export class IndexLockedError extends IndexError {
  constructor(
    readonly dir: string,
    readonly pid: number,
  ) {
    super(`${dir} is being written by process ${pid}: one writer per generation (readers open with readOnly)`);
    this.name = 'IndexLockedError';
  }
}

const LOCK = 'WRITER.lock';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function holder(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : 0;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** create the lock file with our pid, or return false when it exists */
function create(file: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    writeSync(fd, `${process.pid}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * One writer per generation: `<generation dir>/WRITER.lock` holds the writer's pid. Taking it is
 * refused while a live process holds it; a lock left by a dead process (a crash, SIGKILL) is taken
 * over. A lock naming this very process is re-entered: one process opening a generation again
 * (after a simulated crash in a test, or a reopen) is the caller's own business.
 *
 * Taking over is race-free between two processes: the stale file is first renamed to a name of
 * our own (only one rename of it can succeed), and if what we moved turns out to be a live
 * holder's fresh lock, it is linked back (link fails rather than overwrite) and we are refused.
 */
export class WriterLock {
  private constructor(readonly file: string) {}

  static acquire(dir: string): WriterLock {
    const file = join(dir, LOCK);
    for (let attempt = 0; attempt < 5; attempt++) {
      if (create(file)) return new WriterLock(file);
      const pid = holder(file);
      if (pid === undefined) continue; // released meanwhile: try again
      if (pid === process.pid) return new WriterLock(file);
      if (pid > 0 && alive(pid)) throw new IndexLockedError(dir, pid);
      const aside = `${file}.stale-${process.pid}`;
      try {
        renameSync(file, aside);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // another process took it over first
        throw e;
      }
      const moved = holder(aside);
      if (moved !== undefined && moved !== pid && moved > 0 && alive(moved)) {
        try {
          linkSync(aside, file);
        } catch {
          // a third process created a lock meanwhile: it keeps it, we are refused all the same
        }
        unlinkSync(aside);
        throw new IndexLockedError(dir, moved);
      }
      unlinkSync(aside);
    }
    throw new IndexError(`could not take the writer lock of ${dir}: it keeps changing hands`);
  }

  /** remove the lock if it is still ours */
  release(): void {
    if (holder(this.file) !== process.pid) return;
    try {
      unlinkSync(this.file);
    } catch {
      // already gone
    }
  }
}
