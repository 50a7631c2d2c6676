/**
 * kafkajs 2.2.4's produce hot path, two modules of it replaced (issue 14):
 *
 * - **The record encoder** (`src/protocol/recordBatch/record/v0`): kafkajs builds every record in
 *   a `new Encoder()` (a zeroed 512 B Buffer), writes each varint through `Buffer.from([...])` and
 *   each timestamp delta through 64-bit `Long` arithmetic, and a header through an Encoder of its
 *   own. Here a record is sized once and written straight into a slab shared by the records that
 *   follow (as Node's own Buffer pool does: a slab is never reused, a full one is left to the GC
 *   with the last record that points into it). Same bytes; anything unusual (a header value that
 *   is neither string nor Buffer, a non-integer timestamp) goes to kafkajs' own encoder.
 * - **The default partitioner** (`src/producer/partitioners/default`): murmur2 in 32-bit integer
 *   arithmetic (`Math.imul`) instead of `Long` objects, a string key hashed from a scratch buffer,
 *   and the available-partition list filtered only for keyless messages, not for every message.
 *   Same partition as kafkajs' DefaultPartitioner and Java's (a test compares them key by key).
 *
 * - **The record batch checksum** (`src/protocol/recordBatch/crc32C`): kafkajs computes CRC-32C a
 *   byte at a time in JavaScript, 11–13 % of a stage's CPU in the issue-14 profiles (every
 *   produced byte passes through it once). `@node-rs/crc32` (napi-rs, hardware CRC instructions)
 *   gives the same value; if its binary does not load here, kafkajs' own function stays.
 *
 * All three go in through the require cache, before kafkajs loads its producer: this module is the first
 * import of `kafka.ts` and of the package index. Nothing else of kafkajs is touched (not
 * `sendMessages.js`, which may be patched on its own). If kafkajs was loaded first, nothing is
 * replaced and `fastProduceState()` says so. FEEDLOG_KAFKAJS_FAST_PRODUCE=0 leaves kafkajs as
 * released. Only kafkajs 2.2.4, whose source this matches, is overridden.
 */
import { createRequire, Module } from 'node:module';
import { envVar, readEnvVar } from './define-env.ts';
import { commonEnv } from './env.ts';

const require = createRequire(import.meta.url);

export const FAST_PRODUCE_KAFKAJS_VERSION = '2.2.4';
const RECORD_MODULE = 'kafkajs/src/protocol/recordBatch/record/v0/index.js';
const PARTITIONER_MODULE = 'kafkajs/src/producer/partitioners/default/index.js';
const CRC_MODULE = 'kafkajs/src/protocol/recordBatch/crc32C/index.js';
/** loaded before the two above if kafkajs itself was: then the override comes too late */
const PRODUCE_REQUEST_MODULE = 'kafkajs/src/protocol/requests/produce/v3/request.js';

// ---------------------------------------------------------------------------------------------
// murmur2 and the partitioner

const M = 0x5bd1e995;
let scratch = Buffer.allocUnsafe(256);

/** Kafka's murmur2 (Java `Utils.murmur2`, kafkajs' default/murmur2.js) in 32-bit arithmetic. */
export function murmur2(key: Buffer | string | unknown): number {
  let data: Buffer;
  let length: number;
  if (Buffer.isBuffer(key)) {
    data = key;
    length = key.length;
  } else {
    const s = typeof key === 'string' ? key : String(key);
    if (s.length * 3 > scratch.length) scratch = Buffer.allocUnsafe(Math.max(s.length * 3, scratch.length * 2));
    data = scratch;
    length = scratch.write(s, 0, 'utf8');
  }
  let h = (0x9747b28c ^ length) | 0;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i << 2;
    let k = (data[i4] as number) | ((data[i4 + 1] as number) << 8) | ((data[i4 + 2] as number) << 16);
    k |= (data[i4 + 3] as number) << 24;
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const tail = length & ~3;
  switch (length & 3) {
    // biome-ignore lint/suspicious/noFallthroughSwitchClause: murmur2's tail falls through on purpose
    case 3:
      h ^= (data[tail + 2] as number) << 16;
    // biome-ignore lint/suspicious/noFallthroughSwitchClause: murmur2's tail falls through on purpose
    case 2:
      h ^= (data[tail + 1] as number) << 8;
    case 1:
      h ^= data[tail] as number;
      h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

interface PartitionerArgs {
  topic: string;
  partitionMetadata: { partitionId: number; leader: number }[];
  message: { key?: unknown; partition?: number | null };
}

/** kafkajs' DefaultPartitioner (legacy/partitioner.js fed Java's murmur2), without a filter per message. */
export function createFastPartitioner(): (args: PartitionerArgs) => number {
  const counters = new Map<string, number>();
  const next = (topic: string) => {
    // kafkajs starts each topic's round robin at a random 32-bit value
    const c = (counters.get(topic) ?? (Math.random() * 0x100000000) >>> 0) + 1;
    counters.set(topic, c);
    return c & 0x7fffffff;
  };
  return ({ topic, partitionMetadata, message }) => {
    if (message.partition !== null && message.partition !== undefined) return message.partition;
    const numPartitions = partitionMetadata.length;
    if (message.key !== null && message.key !== undefined) return (murmur2(message.key) & 0x7fffffff) % numPartitions;
    const available = partitionMetadata.filter((p) => p.leader >= 0);
    if (available.length > 0) return (available[next(topic) % available.length] as { partitionId: number }).partitionId;
    return next(topic) % numPartitions;
  };
}

// ---------------------------------------------------------------------------------------------
// the record encoder

type Bytes = Buffer | string | null | undefined;
interface RecordArgs {
  offsetDelta?: number;
  timestampDelta?: number;
  key?: Bytes;
  value?: Bytes;
  headers?: Record<string, Bytes | Bytes[]> | null;
}

/** What kafkajs reads of a record's Encoder: `buf` (checked to be a Buffer), `buffer`, `size()`. */
export class EncodedRecord {
  constructor(readonly buf: Buffer) {}
  get buffer(): Buffer {
    return this.buf;
  }
  get offset(): number {
    return this.buf.length;
  }
  size(): number {
    return this.buf.length;
  }
  toJSON() {
    return this.buf.toJSON();
  }
}

const SLAB = 256 * 1024;
let slab = Buffer.allocUnsafe(SLAB);
let slabUsed = 0;

/** `size` bytes of the current slab (a new slab when it is full; a record over 16 KiB gets its own) */
function carve(size: number): Buffer {
  if (size > SLAB >>> 4) return Buffer.allocUnsafe(size);
  if (slabUsed + size > SLAB) {
    slab = Buffer.allocUnsafe(SLAB);
    slabUsed = 0;
  }
  const out = slab.subarray(slabUsed, slabUsed + size);
  slabUsed += size;
  return out;
}

const sizeOfUVarInt = (u: number): number => {
  let n = 1;
  while (u >= 0x80) {
    u = Math.floor(u / 128);
    n++;
  }
  return n;
};
const zigzag32 = (v: number): number => ((v << 1) ^ (v >> 31)) >>> 0;
const zigzag64 = (v: number): number => (v >= 0 ? v * 2 : -v * 2 - 1);
const byteLen = (v: Buffer | string): number => (typeof v === 'string' ? Buffer.byteLength(v, 'utf8') : v.length);

function writeUVarInt(buf: Buffer, o: number, u: number): number {
  while (u >= 0x80) {
    buf[o++] = (u % 128) | 0x80;
    u = Math.floor(u / 128);
  }
  buf[o++] = u;
  return o;
}

function writeBytes(buf: Buffer, o: number, v: Buffer | string | null | undefined, len: number): number {
  if (v === null || v === undefined) return writeUVarInt(buf, o, 1); // varint -1
  o = writeUVarInt(buf, o, zigzag32(len));
  if (typeof v === 'string') buf.write(v, o, len, 'utf8');
  else buf.set(v, o); // TypedArray#set: a builtin, no Buffer#copy wrapper
  return o + len;
}

/** Header keys seen (a stage uses a handful): their UTF-8 bytes, copied into each record instead of encoded again. */
const headerKeys = new Map<string, Buffer>();
function keyBytes(k: string): Buffer {
  let b = headerKeys.get(k);
  if (b === undefined) {
    b = Buffer.from(k, 'utf8');
    if (headerKeys.size >= 1024) headerKeys.clear(); // only odd producers have this many
    headerKeys.set(k, b);
  }
  return b;
}

/** Longest header string written by the loop below; longer ones by Buffer#write (one native call). */
const SHORT = 64;

/** The UTF-8 length of a short ASCII string (its length: one byte per character), else -1. */
function shortAscii(s: string): number {
  if (s.length > SHORT) return -1;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return -1;
  return s.length;
}

/**
 * Each header value's byte length, from the sizing pass to the writing pass of one record (a
 * scratch array reused by every record): `~length` (negative) for a string written by
 * Buffer#write, the length for one written by character code or a Buffer.
 */
const valueLens: number[] = [];

/** Bytes of a header value with its length varint; notes its length in valueLens[at]. */
function sizeOfValue(v: Buffer | string, at: number): number {
  let len = typeof v === 'string' ? shortAscii(v) : v.length;
  if (len >= 0) valueLens[at] = len;
  else {
    len = byteLen(v);
    valueLens[at] = ~len;
  }
  return sizeOfUVarInt(zigzag32(len)) + len;
}

/**
 * A header value with its length varint (`noted`: its valueLens entry). A short ASCII string (a
 * trace context, an epoch-ms timestamp) is written by character code: at these lengths cheaper
 * than Buffer.byteLength + Buffer#write, two native calls. The same bytes.
 */
function writeValue(buf: Buffer, o: number, v: Buffer | string, noted: number): number {
  if (typeof v !== 'string' || noted < 0) return writeBytes(buf, o, v, noted < 0 ? ~noted : noted);
  o = writeUVarInt(buf, o, zigzag32(noted));
  for (let i = 0; i < noted; i++) buf[o + i] = v.charCodeAt(i);
  return o + noted;
}

const plain = (v: unknown): v is Buffer | string | null | undefined =>
  v === null || v === undefined || typeof v === 'string' || Buffer.isBuffer(v);

/**
 * The bytes of kafkajs' `recordBatch/record/v0` for the same arguments, or `undefined` when the
 * arguments are not ones it handles (then kafkajs' own encoder writes them).
 */
export function encodeRecord(r: RecordArgs): EncodedRecord | undefined {
  const offsetDelta = r.offsetDelta ?? 0;
  const timestampDelta = r.timestampDelta ?? 0;
  const { key, value } = r;
  if (!Number.isSafeInteger(timestampDelta) || !Number.isInteger(offsetDelta) || !plain(key) || !plain(value))
    return undefined;
  const keyLen = key == null ? 0 : byteLen(key);
  const valueLen = value == null ? 0 : byteLen(value);
  // headers: sized in a first pass, written in a second (for-in: no key array, no per-record list)
  let count = 0;
  let headersSize = 0;
  const headers = r.headers;
  if (headers) {
    for (const hk in headers) {
      if (!Object.hasOwn(headers, hk)) continue;
      const hv = headers[hk];
      const kl = keyBytes(hk).length;
      if (Array.isArray(hv)) {
        for (const v of hv) {
          if (typeof v !== 'string' && !Buffer.isBuffer(v)) return undefined; // kafkajs throws or writes -1: its call
          headersSize += sizeOfUVarInt(zigzag32(kl)) + kl + sizeOfValue(v, count);
          count++;
        }
      } else {
        if (typeof hv !== 'string' && !Buffer.isBuffer(hv)) return undefined;
        headersSize += sizeOfUVarInt(zigzag32(kl)) + kl + sizeOfValue(hv, count);
        count++;
      }
    }
  }
  const tsZ = zigzag64(timestampDelta);
  const body =
    1 +
    sizeOfUVarInt(tsZ) +
    sizeOfUVarInt(zigzag32(offsetDelta)) +
    (key == null ? 1 : sizeOfUVarInt(zigzag32(keyLen)) + keyLen) +
    (value == null ? 1 : sizeOfUVarInt(zigzag32(valueLen)) + valueLen) +
    sizeOfUVarInt(zigzag32(count)) +
    headersSize;
  const bodyZ = zigzag32(body);
  const buf = carve(sizeOfUVarInt(bodyZ) + body);
  let o = writeUVarInt(buf, 0, bodyZ);
  buf[o++] = 0; // attributes
  o = writeUVarInt(buf, o, tsZ);
  o = writeUVarInt(buf, o, zigzag32(offsetDelta));
  o = writeBytes(buf, o, key, keyLen);
  o = writeBytes(buf, o, value, valueLen);
  o = writeUVarInt(buf, o, zigzag32(count));
  let h = 0;
  if (headers)
    for (const hk in headers) {
      if (!Object.hasOwn(headers, hk)) continue;
      const hv = headers[hk] as Buffer | string | (Buffer | string)[];
      const kb = keyBytes(hk);
      if (Array.isArray(hv))
        for (const v of hv) {
          o = writeBytes(buf, o, kb, kb.length);
          o = writeValue(buf, o, v, valueLens[h++] as number);
        }
      else {
        o = writeBytes(buf, o, kb, kb.length);
        o = writeValue(buf, o, hv, valueLens[h++] as number);
      }
    }
  return new EncodedRecord(buf);
}

// ---------------------------------------------------------------------------------------------
// installation

export type FastProduceState = 'installed' | 'off' | 'kafkajs-loaded-first' | 'other-kafkajs-version';
let state: FastProduceState | undefined;

function preload(request: string, exports: unknown): void {
  const filename = require.resolve(request);
  const m = new Module(filename);
  m.filename = filename;
  m.exports = exports;
  m.loaded = true;
  require.cache[filename] = m;
}

/** Put the modules in the require cache (once per process); says what it did. */
export function installFastProduce(env?: NodeJS.ProcessEnv): FastProduceState {
  if (state !== undefined) return state;
  if (!readEnvVar(envVar(commonEnv, 'FEEDLOG_KAFKAJS_FAST_PRODUCE'), env)) {
    state = 'off';
    return state;
  }
  const { version } = require('kafkajs/package.json') as { version: string };
  if (version !== FAST_PRODUCE_KAFKAJS_VERSION) {
    state = 'other-kafkajs-version';
    return state;
  }
  if (require.cache[require.resolve(PRODUCE_REQUEST_MODULE)] || require.cache[require.resolve(PARTITIONER_MODULE)]) {
    state = 'kafkajs-loaded-first';
    return state;
  }
  // kafkajs' own encoder for what the fast one leaves alone (and while switched off); it requires
  // only the Encoder and Header modules
  const original = require(RECORD_MODULE) as (r: RecordArgs) => unknown;
  delete require.cache[require.resolve(RECORD_MODULE)];
  // kafkajs' DefaultPartitioner from its parts (default/index.js is the module replaced)
  const createReleased = (
    require('kafkajs/src/producer/partitioners/legacy/partitioner.js') as (m: unknown) => unknown
  )(require('kafkajs/src/producer/partitioners/default/murmur2.js')) as () => ReturnType<typeof createFastPartitioner>;
  preload(RECORD_MODULE, (r: RecordArgs) => (enabled ? encodeRecord(r) : undefined) ?? original(r));
  preload(PARTITIONER_MODULE, installedPartitioner);
  const nativeCrc = loadNativeCrc32c();
  if (nativeCrc) {
    const releasedCrc = require(CRC_MODULE) as (b: Buffer) => number;
    delete require.cache[require.resolve(CRC_MODULE)];
    preload(CRC_MODULE, (b: Buffer) => (enabled ? nativeCrc(b) >>> 0 : releasedCrc(b)));
  }
  releasedPartitioner = createReleased;
  state = 'installed';
  return state;
}

let enabled = true;

/** `@node-rs/crc32`'s crc32c, or undefined when its platform binary is missing or does not load. */
export function loadNativeCrc32c(): ((b: Buffer) => number) | undefined {
  try {
    return (require('@node-rs/crc32') as { crc32c: (b: Buffer) => number }).crc32c;
  } catch {
    return undefined;
  }
}
let releasedPartitioner: (() => ReturnType<typeof createFastPartitioner>) | undefined;

/** kafkajs' `Partitioners.DefaultPartitioner` once installed: the fast one, or kafkajs' own while switched off */
export function installedPartitioner(): ReturnType<typeof createFastPartitioner> {
  return enabled || !releasedPartitioner ? createFastPartitioner() : releasedPartitioner();
}

/**
 * Switch the installed modules back to kafkajs' own code (false) and on again, in this process:
 * benchmarks compare both in one run. Producers keep the partitioner they were created with.
 */
export function setFastProduce(on: boolean): void {
  enabled = on;
}

/** what `installFastProduce` did in this process (undefined: not called) */
export function fastProduceState(): FastProduceState | undefined {
  return state;
}

installFastProduce();
