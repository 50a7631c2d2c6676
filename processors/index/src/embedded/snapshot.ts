import { mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncDir, readIfExists, readIfExistsSync, seqName, writeAtomic, writeDurable } from './files.ts';
import type { StoredItems } from './store.ts';

/**
 * Snapshots of one collection directory. `CURRENT` names the snapshot `snap-<n>/` (graph file
 * `ann.bin`, `vectors.f32`, `items.json`) and the log `wal-<n>.log` written after it. A new
 * snapshot is written beside the old one, then CURRENT is replaced atomically; older files go.
 * A crash at any point leaves CURRENT naming a complete snapshot and its log.
 */
export interface Current {
  snapshot: string | null;
  wal: string;
  seq: number;
}

const CURRENT = 'CURRENT';
const empty = (): Current => ({ snapshot: null, wal: seqName('wal', 0, '.log'), seq: 0 });

/** What opening a collection reads: CURRENT and, when it names one, the snapshot's data files. */
export interface SnapshotFiles {
  current: Current;
  /** CURRENT's mtime (0 when absent): readers compare it to notice a new snapshot */
  currentMtime: number;
  /** the snapshot directory, when CURRENT names one */
  snapDir?: string;
  items?: StoredItems;
  vectors?: Buffer;
}

const parseCurrent = (b: Buffer | undefined) => (b ? (JSON.parse(b.toString('utf8')) as Current) : undefined);

function located(dir: string, cur: Current | undefined, mtime: number): SnapshotFiles {
  const current = cur ?? empty();
  return {
    current,
    currentMtime: mtime,
    ...(current.snapshot ? { snapDir: join(dir, current.snapshot) } : {}),
  };
}

const mtimeSync = (f: string) => {
  try {
    return statSync(f).mtimeMs;
  } catch {
    return 0;
  }
};

/** the writer's open (synchronous: it happens once, before the first write) */
export function readSnapshotSync(dir: string): SnapshotFiles {
  const f = join(dir, CURRENT);
  const out = located(dir, parseCurrent(readIfExistsSync(f)), mtimeSync(f));
  if (out.snapDir) {
    out.items = JSON.parse(readIfExistsSync(join(out.snapDir, 'items.json'))!.toString('utf8')) as StoredItems;
    out.vectors = readIfExistsSync(join(out.snapDir, 'vectors.f32'));
  }
  return out;
}

/** CURRENT alone, off the event loop: readers look at it on every search */
export async function readCurrent(dir: string): Promise<{ current: Current | undefined; currentMtime: number }> {
  const f = join(dir, CURRENT);
  const mtime = await stat(f).then(
    (s) => s.mtimeMs,
    () => 0,
  );
  return { current: parseCurrent(await readIfExists(f)), currentMtime: mtime };
}

/** a reader's open or reload, off the event loop */
export async function readSnapshot(dir: string): Promise<SnapshotFiles> {
  const { current, currentMtime } = await readCurrent(dir);
  const out = located(dir, current, currentMtime);
  if (out.snapDir) {
    const [items, vectors] = await Promise.all([
      readIfExists(join(out.snapDir, 'items.json')),
      readIfExists(join(out.snapDir, 'vectors.f32')),
    ]);
    if (!items) throw new Error(`snapshot ${out.snapDir} has no items.json`);
    out.items = JSON.parse(items.toString('utf8')) as StoredItems;
    out.vectors = vectors;
  }
  return out;
}

/**
 * Write snapshot `seq` (the graph through `saveGraph`, the vectors, the items) and its fresh empty
 * log, switch CURRENT to them, and remove the older snapshots and logs. Returns the new CURRENT.
 */
export function writeSnapshot(
  dir: string,
  seq: number,
  data: { saveGraph: (file: string) => void; items: StoredItems; vectorBytes: Uint8Array },
): Current {
  const snapName = seqName('snap', seq);
  const tmp = join(dir, `${snapName}.tmp`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  data.saveGraph(join(tmp, 'ann.bin'));
  writeDurable(join(tmp, 'vectors.f32'), data.vectorBytes);
  writeDurable(join(tmp, 'items.json'), JSON.stringify(data.items));
  fsyncDir(tmp);
  renameSync(tmp, join(dir, snapName));
  const walName = seqName('wal', seq, '.log');
  writeDurable(join(dir, walName), '');
  fsyncDir(dir);
  const next: Current = { snapshot: snapName, wal: walName, seq };
  writeAtomic(join(dir, CURRENT), JSON.stringify(next));
  for (const f of readdirSync(dir)) {
    if ((f.startsWith('snap-') && f !== snapName) || (f.startsWith('wal-') && f !== walName)) {
      rmSync(join(dir, f), { recursive: true, force: true });
    }
  }
  return next;
}
