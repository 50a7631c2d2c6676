import { mkdirSync, rmSync, statSync } from 'node:fs';
import { readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EngineKind, EngineParams } from '../engines.ts';
import { collectionName, type Generation, IndexUsageError, type Metric } from '../types.ts';
import { fsyncDir, readIfExists, readIfExistsSync, writeAtomic } from './files.ts';

/** A generation's `meta.json`: what its collection was created with. */
export interface Meta {
  name: string;
  dims: number;
  metric: Metric;
  engine: EngineKind;
  params: EngineParams;
  createdAt: string;
}

/** Aliases: `<root>/aliases/<alias>` holds `{"generation":N}`, replaced atomically on a flip. */
const ALIASES = 'aliases';
let tmpSeq = 0;

/**
 * The directory layout of an embedded index root: one `headlines_g<N>/` per generation (with its
 * `meta.json`) and the `aliases/` naming which generation serves. Alias reads use fs/promises:
 * every search by alias resolves one.
 */
export class Generations {
  /** parsed alias files by alias, with the stat they were read under */
  private readonly aliasCache = new Map<string, { key: string; generation: Generation }>();

  constructor(readonly root: string) {
    mkdirSync(join(root, ALIASES), { recursive: true });
  }

  dirOf(gen: Generation): string {
    return join(this.root, collectionName(gen));
  }

  readMeta(gen: Generation): Meta | undefined {
    const b = readIfExistsSync(join(this.dirOf(gen), 'meta.json'));
    return b ? (JSON.parse(b.toString('utf8')) as Meta) : undefined;
  }

  /** `readMeta` off the event loop (a reader's first search of a generation) */
  async readMetaAsync(gen: Generation): Promise<Meta | undefined> {
    const b = await readIfExists(join(this.dirOf(gen), 'meta.json'));
    return b ? (JSON.parse(b.toString('utf8')) as Meta) : undefined;
  }

  /** create the generation's directory and meta (an existing one must match dims and metric) */
  ensure(gen: Generation, dims: number, metric: Metric, engine: EngineKind, params: EngineParams): void {
    const existing = this.readMeta(gen);
    if (existing) {
      if (existing.dims !== dims || existing.metric !== metric)
        throw new IndexUsageError(
          `${collectionName(gen)} exists with ${existing.dims} dims/${existing.metric}, asked ${dims}/${metric}`,
        );
      return;
    }
    if (!Number.isInteger(dims) || dims <= 0) throw new IndexUsageError(`dims must be a positive integer`);
    const dir = this.dirOf(gen);
    mkdirSync(dir, { recursive: true });
    const meta: Meta = { name: collectionName(gen), dims, metric, engine, params, createdAt: new Date().toISOString() };
    writeAtomic(join(dir, 'meta.json'), JSON.stringify(meta, null, 2));
  }

  remove(gen: Generation): void {
    rmSync(this.dirOf(gen), { recursive: true, force: true });
  }

  async list(): Promise<Generation[]> {
    return (await readdir(this.root))
      .map((d) => /^headlines_g(\d+)$/.exec(d)?.[1])
      .filter((x): x is string => x !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
  }

  private aliasFile(alias: string): string {
    if (!/^[A-Za-z0-9_.-]+$/.test(alias)) throw new IndexUsageError(`bad alias name ${JSON.stringify(alias)}`);
    return join(this.root, ALIASES, alias);
  }

  /** point `alias` at `gen`: temp file, fsync, rename over the old one (atomic on POSIX), fsync the directory */
  async flip(alias: string, gen: Generation): Promise<void> {
    if (!this.readMeta(gen)) throw new IndexUsageError(`cannot point ${alias} at missing ${collectionName(gen)}`);
    const file = this.aliasFile(alias);
    // a name of its own per flip: two flips in flight must not share a temp file
    const tmp = `${file}.tmp-${process.pid}-${++tmpSeq}`;
    await writeFile(tmp, JSON.stringify({ generation: gen, at: new Date().toISOString() }), { flush: true });
    await rename(tmp, file);
    fsyncDir(join(this.root, ALIASES));
  }

  /**
   * The generation an alias names. A search by alias asks this every time: the parsed file is
   * kept with its inode and times, and read again only when a stat (metadata, a few µs) differs:
   * a flip renames a new file over the alias (a new inode), so the next search sees it.
   */
  async serving(alias: string): Promise<Generation | undefined> {
    const file = this.aliasFile(alias);
    const st = statSync(file, { throwIfNoEntry: false });
    if (!st) {
      this.aliasCache.delete(alias);
      return undefined;
    }
    const key = `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
    const hit = this.aliasCache.get(alias);
    if (hit?.key === key) return hit.generation;
    let generation: Generation;
    try {
      generation = (JSON.parse(await readFile(file, 'utf8')) as { generation: number }).generation;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    // the key was taken before the read: a flip during it changes the key again, so it is read next time
    this.aliasCache.set(alias, { key, generation });
    return generation;
  }

  async aliases(): Promise<Record<string, Generation>> {
    const out: Record<string, Generation> = {};
    for (const a of await readdir(join(this.root, ALIASES))) {
      if (a.includes('.tmp-')) continue;
      const g = await this.serving(a);
      if (g !== undefined) out[a] = g;
    }
    return out;
  }
}
