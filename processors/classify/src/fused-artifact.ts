import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ModelArtifactError } from './artifact.ts';
import type { EmbeddingHead } from './embedding-head.ts';
import { FusedClassifierModel, type FusedHeader } from './fused-model.ts';
import { KnnVoter } from './knn.ts';
import { modelFromBytes } from './model.ts';

/**
 * The fused artifact (`.flcf`): magic `FLCFUS1\n`, uint32 header length, JSON header (FusedHeader),
 * padding to 4 bytes, then the sections: the n-gram model's own `.flcm` bytes (padded to 4), the head
 * (mean, 1/sd, W, b as float32), the kNN rows' unit vectors (float32) and their class bytes.
 * The header's sha256 covers the sections; `version` hashes them with every prediction setting.
 */
export const FUSED_MAGIC = Buffer.from('FLCFUS1\n', 'latin1');

export type FusedHeaderInput = Omit<FusedHeader, 'format' | 'formatVersion' | 'version' | 'sections'>;

const pad4 = (n: number) => (4 - (n % 4)) % 4;

function f32(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

export function encodeFused(
  input: FusedHeaderInput,
  ngramBytes: Buffer,
  head: EmbeddingHead,
  knn: KnnVoter,
): { bytes: Buffer; header: FusedHeader } {
  const ngram = Buffer.concat([ngramBytes, Buffer.alloc(pad4(ngramBytes.length))]);
  const headBuf = Buffer.concat([f32(head.mean), f32(head.invStd), f32(head.w), f32(head.b)]);
  const vectors = f32(knn.vectors);
  const labels = Buffer.from(knn.labels.buffer, knn.labels.byteOffset, knn.labels.byteLength);
  const sha256 = createHash('sha256').update(ngram).update(headBuf).update(vectors).update(labels).digest('hex');
  const settings = JSON.stringify({
    name: input.name,
    labels: input.labels,
    embedding: input.embedding,
    fusion: input.fusion,
    knn: input.knn,
  });
  const header: FusedHeader = {
    format: 'feedlog-fused-classifier',
    formatVersion: 1,
    ...input,
    version: createHash('sha256').update(settings).update(sha256).digest('hex').slice(0, 16),
    sections: { ngram: ngram.length, head: headBuf.length, vectors: vectors.length, labels: labels.length, sha256 },
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32LE(json.length, 0);
  const pad = Buffer.alloc(pad4(FUSED_MAGIC.length + 4 + json.length));
  return { bytes: Buffer.concat([FUSED_MAGIC, len, json, pad, ngram, headBuf, vectors, labels]), header };
}

export function isFusedArtifact(bytes: Buffer): boolean {
  return bytes.length >= FUSED_MAGIC.length && bytes.subarray(0, FUSED_MAGIC.length).equals(FUSED_MAGIC);
}

export function decodeFused(bytes: Buffer, path = '<buffer>'): FusedClassifierModel {
  if (!isFusedArtifact(bytes))
    throw new ModelArtifactError('BAD_MAGIC', path, 'not a fused classifier (bad magic bytes)');
  if (bytes.length < 12) throw new ModelArtifactError('TRUNCATED', path, 'file ends inside the header');
  const len = bytes.readUInt32LE(FUSED_MAGIC.length);
  const start = FUSED_MAGIC.length + 4;
  if (start + len > bytes.length) throw new ModelArtifactError('TRUNCATED', path, 'file ends inside the header');
  let header: FusedHeader;
  try {
    header = JSON.parse(bytes.subarray(start, start + len).toString('utf8')) as FusedHeader;
  } catch (e) {
    throw new ModelArtifactError('BAD_HEADER', path, `header is not JSON: ${(e as Error).message}`);
  }
  if (header.format !== 'feedlog-fused-classifier' || header.formatVersion !== 1)
    throw new ModelArtifactError('UNSUPPORTED', path, `unsupported format ${header.format} v${header.formatVersion}`);
  const s = header.sections;
  let o = start + len + pad4(start + len);
  const total = o + s.ngram + s.head + s.vectors + s.labels;
  if (bytes.length < total)
    throw new ModelArtifactError('TRUNCATED', path, `expected ${total} bytes, have ${bytes.length}`);
  if (bytes.length > total) throw new ModelArtifactError('BAD_HEADER', path, 'trailing bytes after the sections');
  const body = bytes.subarray(o, total);
  if (createHash('sha256').update(body).digest('hex') !== s.sha256)
    throw new ModelArtifactError('CHECKSUM', path, 'section checksum mismatch (corrupt file)');
  // each section copied into its own ArrayBuffer (a Buffer may sit at any offset of a pool)
  const take = (n: number): ArrayBuffer => {
    const ab = new ArrayBuffer(n);
    new Uint8Array(ab).set(bytes.subarray(o, o + n));
    o += n;
    return ab;
  };
  const ngram = modelFromBytes(Buffer.from(take(s.ngram)));
  const C = header.labels.length;
  const D = header.embedding.dims;
  const h = new Float32Array(take(s.head));
  if (h.length !== 2 * D + C * D + C)
    throw new ModelArtifactError('BAD_HEADER', path, 'head section size does not match dims × classes');
  const head: EmbeddingHead = {
    dims: D,
    classes: C,
    mean: h.slice(0, D),
    invStd: h.slice(D, 2 * D),
    w: h.slice(2 * D, 2 * D + C * D),
    b: h.slice(2 * D + C * D),
  };
  const vectors = new Float32Array(take(s.vectors));
  const knn = new KnnVoter(vectors, new Uint8Array(take(s.labels)), D, C, header.knn);
  return new FusedClassifierModel(header, ngram, head, knn);
}

export function saveFused(path: string, bytes: Buffer): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}

export function readFused(path: string): FusedClassifierModel {
  return decodeFused(readFileSync(path), path);
}
