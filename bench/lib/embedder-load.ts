// Shared by bench/embedder.ts and bench/embedder-options.ts: the headlines, the timed loop, the
// model's multiply-adds per token and this machine's peak FLOP rate.
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import { headlinesCsv } from '../../processors/embedder/reference/ref.ts';

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The first n UCI titles (or the package's fixture when ../shared/data is absent). */
export function loadHeadlines(n: number): { texts: string[]; csvPath: string } {
  const fixture = resolve(import.meta.dirname, '../../processors/embedder/test/fixtures/headlines.csv');
  const csvPath = existsSync(headlinesCsv()) ? headlinesCsv() : fixture;
  const rows = parse(readFileSync(csvPath), { columns: true }) as { TITLE: string }[];
  return { texts: rows.slice(0, n).map((r) => r.TITLE), csvPath };
}

/**
 * Run `step` on consecutive chunks of `batch` texts with `parallel` loops for at least `seconds`
 * (after one warm-up call); headlines per second.
 */
export async function measure(
  texts: readonly string[],
  seconds: number,
  parallel: number,
  batch: number,
  step: (chunk: string[]) => Promise<unknown>,
): Promise<number> {
  await step(texts.slice(0, batch));
  let done = 0;
  let pos = 0;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  const loop = async () => {
    while (performance.now() < deadline) {
      const start = pos % texts.length;
      pos += batch;
      const chunk = texts.slice(start, start + batch);
      await step(chunk);
      done += chunk.length;
    }
  };
  await Promise.all(Array.from({ length: parallel }, loop));
  return done / ((performance.now() - t0) / 1000);
}

export interface EncoderShape {
  layers: number;
  hidden: number;
  ffn: number;
}

/** all-MiniLM-L6-v2 (BERT encoder): 6 layers, hidden 384, FFN 1536. */
export const MINILM_L6: EncoderShape = { layers: 6, hidden: 384, ffn: 1536 };
/** paraphrase-MiniLM-L3-v2: 3 layers of the same width. */
export const MINILM_L3: EncoderShape = { layers: 3, hidden: 384, ffn: 1536 };

/**
 * Multiply-adds per real token of a BERT encoder at sequence length `seq`: per layer the Q, K, V and
 * output projections (4·h²), the two FFN matrices (2·h·ffn) and attention (QKᵀ and AV: 2·seq·h).
 * Embedding lookups, layer norms, softmax and GELU are not multiply-adds and are left out; padding
 * tokens are not counted (they are work, but not useful work).
 */
export function macsPerToken(m: EncoderShape, seq: number): number {
  return m.layers * (4 * m.hidden * m.hidden + 2 * m.hidden * m.ffn + 2 * seq * m.hidden);
}

/** Useful multiply-adds per headline, averaged over `lengths` (token counts incl. [CLS]/[SEP]). */
export function macsPerHeadline(m: EncoderShape, lengths: readonly number[]): number {
  return lengths.reduce((s, l) => s + l * macsPerToken(m, l), 0) / lengths.length;
}

/**
 * fp32 peak of this machine from /proc/cpuinfo: cores × GHz × FLOPs/cycle, where FLOPs/cycle =
 * SIMD lanes (16 with avx512f, 8 with avx2, 4 otherwise) × 2 (fused multiply-add) × 2 FMA units (an
 * assumption: Xeon server cores since Skylake-SP have two 512-bit FMA ports; a VM cannot show it).
 * GHz is the "cpu MHz" line, the nominal clock under a hypervisor (turbo, if any, is not visible).
 */
export function peakFlops(): { flops: number; describe: string } {
  const info = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  const flags = new Set((/^flags\s*:\s*(.*)$/m.exec(info)?.[1] ?? '').split(' '));
  const mhz = Number(/^cpu MHz\s*:\s*([\d.]+)/m.exec(info)?.[1] ?? Number.NaN);
  const lanes = flags.has('avx512f') ? 16 : flags.has('avx2') ? 8 : 4;
  const simd = flags.has('avx512f') ? 'AVX-512' : flags.has('avx2') ? 'AVX2' : 'SSE';
  const perCycle = lanes * 2 * (flags.has('fma') ? 2 : 1);
  const cores = availableParallelism();
  const flops = cores * (mhz / 1000) * perCycle * 1e9;
  return {
    flops,
    describe: `${cores} cores × ${(mhz / 1000).toFixed(2)} GHz × ${perCycle} fp32 FLOPs/cycle (${simd}, 2 FMA units) = ${(flops / 1e9).toFixed(0)} GFLOP/s`,
  };
}
