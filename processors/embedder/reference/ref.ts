// Helpers for the reference checks and the benchmark: find a Python that has the reference packages,
// run reference.py, read STS-B. Python is used here only to check the product, never by it.
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '@feedlog/common';
import { sampleRankCorrelation } from 'simple-statistics';
import { embedderEnv } from '../src/env.ts';
import type { ModelFiles } from '../src/fetch.ts';

const run = promisify(execFile);

export const REFERENCE_SCRIPT = resolve(import.meta.dirname, 'reference.py');
export const REQUIREMENTS = resolve(import.meta.dirname, 'requirements.txt');

/** /work/shared/data or $FEEDLOG_SHARED_DATA: real data sets, absent on some machines. */
export function sharedData(env?: NodeJS.ProcessEnv): string {
  return embedderEnv.parse(env).FEEDLOG_SHARED_DATA ?? resolve(import.meta.dirname, '../../../../shared/data');
}

export const headlinesCsv = () => join(sharedData(), 'uci/stories-dev.csv');
export const stsDevCsv = () => join(sharedData(), 'stsbenchmark/sts-dev.csv');

/**
 * A Python interpreter that can import onnxruntime, tokenizers and numpy, or a reason why none was
 * found. Looks at $EMBEDDER_REFERENCE_PYTHON, then the venv made by reference/setup-venv.sh
 * ($FEEDLOG_CACHE/reference-venv), then python3.
 */
export function findReferencePython(env?: NodeJS.ProcessEnv): { python?: string; reason?: string } {
  const candidates = [
    embedderEnv.parse(env).EMBEDDER_REFERENCE_PYTHON,
    join(loadConfig(env).cache, 'reference-venv/bin/python'),
    'python3',
  ].filter((p): p is string => !!p && (p === 'python3' || existsSync(p)));
  for (const python of candidates) {
    const r = spawnSync(python, ['-c', 'import onnxruntime, tokenizers, numpy'], { encoding: 'utf8' });
    if (r.status === 0) return { python };
  }
  return {
    reason:
      `no Python with onnxruntime, tokenizers and numpy (tried ${candidates.join(', ')}); ` +
      'run processors/embedder/reference/setup-venv.sh',
  };
}

export interface ReferenceResult {
  texts: string[];
  ids: number[][];
  dims: number;
  embeddings: Float32Array[];
  sts_spearman?: number;
  sts_pairs?: number;
}

function modelArgs(files: ModelFiles): string[] {
  const s = files.spec;
  return [
    '--onnx',
    files.onnx,
    '--tokenizer',
    files.tokenizerJson,
    '--max-tokens',
    String(s.maxTokens),
    '--output',
    s.tokenEmbeddingsOutput,
    ...(s.normalize ? [] : ['--no-normalize']),
    // only when not the default, so the cached reference results of the mean-pooled models stay valid
    ...(s.pooling === 'mean' ? [] : ['--pooling', s.pooling]),
  ];
}

/**
 * Token ids + embeddings of the first n headlines (and the STS-B dev Spearman when sts) from the
 * reference implementation. Cached under $FEEDLOG_CACHE/reference/ keyed by model files, script and
 * arguments, so a re-run costs no Python time.
 */
export async function referenceEmbeddings(
  python: string,
  files: ModelFiles,
  opts: { n: number; sts: boolean },
): Promise<ReferenceResult> {
  const args = [
    ...modelArgs(files),
    '--headlines',
    headlinesCsv(),
    '--n',
    String(opts.n),
    ...(opts.sts ? ['--sts', stsDevCsv()] : []),
  ];
  const manifest = await readFile(join(files.dir, 'MANIFEST.json'), 'utf8');
  const key = createHash('sha256')
    .update(manifest)
    .update(await readFile(REFERENCE_SCRIPT))
    .update(JSON.stringify(args))
    .digest('hex')
    .slice(0, 16);
  const dir = join(loadConfig().cache, 'reference');
  const out = join(dir, `${files.spec.name}-${key}.json`);
  const cached = await stat(out).then(
    () => true,
    () => false,
  );
  if (!cached) {
    await mkdir(dir, { recursive: true });
    const tmp = `${out}.${process.pid}.tmp`;
    await run(python, [REFERENCE_SCRIPT, 'embed', ...args, '--out', tmp], { maxBuffer: 64 * 1024 * 1024 });
    await rename(tmp, out);
  }
  const raw = JSON.parse(await readFile(out, 'utf8')) as Omit<ReferenceResult, 'embeddings'> & { embeddings: string };
  const buf = Buffer.from(raw.embeddings, 'base64');
  const all = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const embeddings = raw.texts.map((_, i) => all.slice(i * raw.dims, (i + 1) * raw.dims));
  return { ...raw, embeddings };
}

/** Spawn reference.py bench; resolves to headlines/s per batch size. */
export async function referenceBench(
  python: string,
  files: ModelFiles,
  opts: { batchSizes: number[]; n: number; threads: number; seconds: number; bucketRows?: number; spin?: boolean },
): Promise<Map<number, number>> {
  const { stdout } = await run(
    python,
    [
      REFERENCE_SCRIPT,
      'bench',
      ...modelArgs(files),
      '--headlines',
      headlinesCsv(),
      '--n',
      String(opts.n),
      '--threads',
      String(opts.threads),
      '--batch-sizes',
      opts.batchSizes.join(','),
      '--seconds',
      String(opts.seconds),
      '--bucket-rows',
      String(opts.bucketRows ?? 0),
      ...(opts.spin === false ? ['--no-spin'] : []),
    ],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  const out = new Map<number, number>();
  for (const line of stdout.trim().split('\n')) {
    const r = JSON.parse(line) as { batch: number; per_s: number };
    out.set(r.batch, r.per_s);
  }
  return out;
}

/** STS-B rows: gold score 0–5 and the two sentences (tab-separated, 7 or 9 columns). */
export async function readSts(path: string): Promise<{ score: number; a: string; b: string }[]> {
  const rows: { score: number; a: string; b: string }[] = [];
  for (const line of (await readFile(path, 'utf8')).split('\n')) {
    const c = line.split('\t');
    if (c.length >= 7) rows.push({ score: Number(c[4]), a: c[5]!, b: c[6]! });
  }
  return rows;
}

export function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}

/** Spearman's rho (midranks for ties). */
export const spearman = (x: number[], y: number[]): number => sampleRankCorrelation(x, y);
