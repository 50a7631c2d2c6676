import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { type FeatureConfig, validateFeatureConfig } from './features.ts';
import type { LinearWeights } from './linear.ts';
import type { Method, TrainParams } from './trainers.ts';

/**
 * Model artifact (`*.flcm`), one file:
 *   bytes 0..7   magic "FLCLSM1\n"
 *   bytes 8..11  header length H (uint32 LE)
 *   H bytes      header, UTF-8 JSON (ArtifactHeader)
 *   0..3 bytes   zero padding to a multiple of 4
 *   body         uint32 LE row index[R], float32 LE weights[R * C] (feature-major), float32 LE bias[C]
 * Only hash buckets with a non-zero weight row are stored (R rows), so a 2^20-bucket model stays small.
 * `version` is a content hash of the weights and everything that changes predictions (labels, features,
 * temperature, method and hyper-parameters): same version ⇔ same predictions.
 */
export const MAGIC = Buffer.from('FLCLSM1\n', 'latin1');
export const FORMAT = 'feedlog-classifier';
export const FORMAT_VERSION = 1;

export interface MetricsSummary {
  n: number;
  accuracy: number;
  macroF1: number;
  /** records per second, single core, featurise + score (when measured). */
  recordsPerSec?: number;
}

export interface ArtifactHeader {
  format: typeof FORMAT;
  formatVersion: number;
  name: string;
  /** Content hash (16 hex chars of SHA-256) of weights + prediction-relevant config. */
  version: string;
  labels: string[];
  method: Method;
  params: TrainParams;
  features: FeatureConfig;
  temperature: number;
  /** Record fields the model reads, joined with a newline (title, then summary when the record has one). */
  textFields: string[];
  training: {
    data: string;
    format: string;
    rows: number;
    labelCounts: Record<string, number>;
    split: string;
    seed: number;
    trainedOnRows: number;
    selection?: unknown;
  };
  metrics: Record<string, MetricsSummary | undefined>;
  weights: { dtype: 'float32'; dim: number; classes: number; rows: number; sha256: string };
  createdAt: string;
}

export type ArtifactErrorCode = 'NOT_FOUND' | 'BAD_MAGIC' | 'BAD_HEADER' | 'UNSUPPORTED' | 'TRUNCATED' | 'CHECKSUM';

export class ModelArtifactError extends Error {
  override readonly name = 'ModelArtifactError';
  /** Loading the same bytes again will fail the same way. */
  readonly retriable = false;
  constructor(
    readonly code: ArtifactErrorCode,
    readonly path: string,
    message: string,
  ) {
    super(`model artifact ${path}: ${message}`);
  }
}

export type HeaderInput = Omit<ArtifactHeader, 'version' | 'weights' | 'format' | 'formatVersion'>;

function encodeBody(w: LinearWeights): Buffer {
  const C = w.classes;
  const rows: number[] = [];
  for (let i = 0; i < w.dim; i++) {
    for (let c = 0; c < C; c++) {
      if (w.w[i * C + c] !== 0) {
        rows.push(i);
        break;
      }
    }
  }
  const R = rows.length;
  const buf = Buffer.alloc(4 * R + 4 * R * C + 4 * C);
  let o = 0;
  for (const i of rows) {
    buf.writeUInt32LE(i, o);
    o += 4;
  }
  for (const i of rows) {
    for (let c = 0; c < C; c++) {
      buf.writeFloatLE(w.w[i * C + c]!, o);
      o += 4;
    }
  }
  for (let c = 0; c < C; c++) {
    buf.writeFloatLE(w.b[c]!, o);
    o += 4;
  }
  return buf;
}

function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

export function computeVersion(
  h: Pick<ArtifactHeader, 'name' | 'labels' | 'method' | 'params' | 'features' | 'temperature' | 'textFields'>,
  body: Buffer,
): string {
  const cfg = stable({
    name: h.name,
    labels: h.labels,
    method: h.method,
    params: h.params,
    features: h.features,
    temperature: h.temperature,
    textFields: h.textFields,
  });
  return createHash('sha256').update(cfg).update(body).digest('hex').slice(0, 16);
}

export function encodeArtifact(input: HeaderInput, w: LinearWeights): { bytes: Buffer; header: ArtifactHeader } {
  const body = encodeBody(w);
  const rows = (body.length - 4 * w.classes) / (4 + 4 * w.classes);
  const header: ArtifactHeader = {
    format: FORMAT,
    formatVersion: FORMAT_VERSION,
    ...input,
    version: computeVersion(input, body),
    weights: {
      dtype: 'float32',
      dim: w.dim,
      classes: w.classes,
      rows,
      sha256: createHash('sha256').update(body).digest('hex'),
    },
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32LE(json.length, 0);
  const pad = Buffer.alloc((4 - ((MAGIC.length + 4 + json.length) % 4)) % 4);
  return { bytes: Buffer.concat([MAGIC, len, json, pad, body]), header };
}

/** Writes atomically (temp file + rename), so a reader never sees half a model. */
export function saveArtifact(path: string, input: HeaderInput, w: LinearWeights): ArtifactHeader {
  const { bytes, header } = encodeArtifact(input, w);
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
  return header;
}

export function decodeArtifact(bytes: Buffer, path = '<buffer>'): { header: ArtifactHeader; weights: LinearWeights } {
  if (bytes.length < 12 || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new ModelArtifactError('BAD_MAGIC', path, 'not a feedlog classifier model (bad magic bytes)');
  }
  const hlen = bytes.readUInt32LE(8);
  if (12 + hlen > bytes.length) throw new ModelArtifactError('TRUNCATED', path, 'header runs past the end of file');
  let header: ArtifactHeader;
  try {
    header = JSON.parse(bytes.subarray(12, 12 + hlen).toString('utf8')) as ArtifactHeader;
  } catch (e) {
    throw new ModelArtifactError('BAD_HEADER', path, `header is not JSON: ${(e as Error).message}`);
  }
  if (header?.format !== FORMAT) throw new ModelArtifactError('BAD_HEADER', path, `format is not "${FORMAT}"`);
  if (header.formatVersion !== FORMAT_VERSION) {
    throw new ModelArtifactError(
      'UNSUPPORTED',
      path,
      `format version ${header.formatVersion}; this build reads ${FORMAT_VERSION}`,
    );
  }
  const w = header.weights;
  if (
    w?.dtype !== 'float32' ||
    !Array.isArray(header.labels) ||
    header.labels.length !== w.classes ||
    w.classes < 2 ||
    !Number.isInteger(w.rows) ||
    w.rows < 0
  ) {
    throw new ModelArtifactError('BAD_HEADER', path, 'weights description missing or inconsistent with labels');
  }
  const ferr = header.features ? validateFeatureConfig(header.features) : 'missing';
  if (ferr) throw new ModelArtifactError('BAD_HEADER', path, `feature config: ${ferr}`);
  if (w.dim !== 1 << header.features.bits)
    throw new ModelArtifactError('BAD_HEADER', path, 'dim does not match feature bits');
  if (!(header.temperature > 0)) throw new ModelArtifactError('BAD_HEADER', path, 'temperature must be > 0');
  const start = 12 + hlen + ((4 - ((12 + hlen) % 4)) % 4);
  const C = w.classes;
  const bodyLen = 4 * w.rows + 4 * w.rows * C + 4 * C;
  if (bytes.length !== start + bodyLen) {
    throw new ModelArtifactError('TRUNCATED', path, `body is ${bytes.length - start} bytes, header says ${bodyLen}`);
  }
  const body = bytes.subarray(start);
  const sha = createHash('sha256').update(body).digest('hex');
  if (sha !== w.sha256) throw new ModelArtifactError('CHECKSUM', path, 'weights checksum mismatch (corrupt file)');
  if (computeVersion(header, body) !== header.version) {
    throw new ModelArtifactError('CHECKSUM', path, 'version does not match the content hash (edited header?)');
  }
  const weights: LinearWeights = { dim: w.dim, classes: C, w: new Float32Array(w.dim * C), b: new Float32Array(C) };
  let o = 0;
  const rowIdx = new Uint32Array(w.rows);
  for (let r = 0; r < w.rows; r++, o += 4) {
    const i = body.readUInt32LE(o);
    if (i >= w.dim) throw new ModelArtifactError('BAD_HEADER', path, `row index ${i} out of range`);
    rowIdx[r] = i;
  }
  for (let r = 0; r < w.rows; r++) {
    const base = rowIdx[r]! * C;
    for (let c = 0; c < C; c++, o += 4) weights.w[base + c] = body.readFloatLE(o);
  }
  for (let c = 0; c < C; c++, o += 4) weights.b[c] = body.readFloatLE(o);
  return { header, weights };
}

export function readArtifact(path: string): { header: ArtifactHeader; weights: LinearWeights } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new ModelArtifactError('NOT_FOUND', path, (e as Error).message);
  }
  return decodeArtifact(bytes, path);
}
