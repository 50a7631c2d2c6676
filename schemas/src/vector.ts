import { endianness } from 'node:os';

const littleEndianHost = endianness() === 'LE';

/**
 * Pack an embedding as the `bytes` the EmbeddedHeadline schema carries: IEEE-754 float32 values,
 * little-endian, 4 bytes each. (Chosen over Avro array<float> by bench/codec.ts; see schemas/README.md.)
 */
export function vectorToBytes(vector: Float32Array | readonly number[]): Buffer {
  const f32 = vector instanceof Float32Array ? vector : Float32Array.from(vector);
  if (littleEndianHost) return Buffer.from(f32.buffer, f32.byteOffset, f32.byteLength);
  const out = Buffer.allocUnsafe(f32.length * 4);
  for (let i = 0; i < f32.length; i++) out.writeFloatLE(f32[i]!, i * 4);
  return out;
}

/**
 * Unpack `bytes` written by vectorToBytes into a fresh Float32Array (a copy: decoded Avro bytes
 * are views into the Kafka message buffer, and may not be 4-byte aligned).
 */
export function bytesToVector(bytes: Uint8Array, dimensions?: number): Float32Array {
  if (bytes.length % 4 !== 0) throw new RangeError(`vector has ${bytes.length} bytes, not a multiple of 4`);
  const n = bytes.length / 4;
  if (dimensions !== undefined && dimensions !== n) {
    throw new RangeError(`vector has ${n} float32 values, the record says ${dimensions}`);
  }
  const out = new Float32Array(n);
  if (littleEndianHost) {
    new Uint8Array(out.buffer).set(bytes);
  } else {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
  }
  return out;
}
