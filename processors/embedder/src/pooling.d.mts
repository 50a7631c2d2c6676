import type { Pooling } from './models.ts';

export function poolRow(
  hidden: ArrayLike<number>,
  b: number,
  seqLen: number,
  dims: number,
  n: number,
  pooling: Pooling,
  normalize: boolean,
  out: Float32Array,
): void;
