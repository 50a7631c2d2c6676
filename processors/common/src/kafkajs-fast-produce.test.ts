import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire, Module } from 'node:module';
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  createFastPartitioner,
  EncodedRecord,
  encodeRecord,
  FAST_PRODUCE_KAFKAJS_VERSION,
  fastProduceState,
  installedPartitioner,
  loadNativeCrc32c,
  murmur2,
  setFastProduce,
} from './kafkajs-fast-produce.ts';

const require = createRequire(import.meta.url);
// kafkajs' own modules (murmur2.js and the partitioner factory are not replaced, only default/index.js)
const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2.js') as (k: unknown) => number;
const createKafkajsPartitioner = (
  require('kafkajs/src/producer/partitioners/legacy/partitioner.js') as (
    m: typeof kafkajsMurmur2,
  ) => () => (a: {
    topic: string;
    partitionMetadata: { partitionId: number; leader: number }[];
    message: { key?: unknown; partition?: number };
  }) => number
)(kafkajsMurmur2);
/** kafkajs 2.2.4's recordBatch/record/v0 as released: its file compiled afresh (the cached module is the fast one) */
const kafkajsRecord = (() => {
  const filename = require.resolve('kafkajs/src/protocol/recordBatch/record/v0/index.js');
  const m = new Module(filename) as Module & { _compile(code: string, filename: string): void };
  m.filename = filename;
  m.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(dirname(filename));
  m._compile(readFileSync(filename, 'utf8'), filename);
  const encode = m.exports as (r: object) => { buffer: Buffer };
  return (r: object) => encode(r).buffer;
})();

const keys = (): unknown[] => {
  const out: unknown[] = ['', 'a', '21', 'k0', 'feedlog', 'ünïcødé ✓ 日本', 12345, 'x'.repeat(1_000)];
  for (let i = 0; i < 2_000; i++) out.push(randomBytes(i % 67));
  for (let i = 0; i < 2_000; i++) out.push(`k${i}`, randomBytes(16).toString('hex'));
  return out;
};

describe('kafkajs fast produce', () => {
  it('is installed in this process for the kafkajs it was written against', () => {
    expect((require('kafkajs/package.json') as { version: string }).version).toBe(FAST_PRODUCE_KAFKAJS_VERSION);
    expect(fastProduceState()).toBe('installed');
    const { Partitioners } = require('kafkajs') as { Partitioners: { DefaultPartitioner: unknown } };
    expect(Partitioners.DefaultPartitioner).toBe(installedPartitioner);
  });

  it('the record batch checksum is the native CRC-32C, equal to kafkajs’ own on every buffer', () => {
    const native = loadNativeCrc32c();
    expect(native).toBeTypeOf('function'); // the linux-x64 binary is installed with the package
    const installed = require('kafkajs/src/protocol/recordBatch/crc32C/index.js') as (b: Buffer) => number;
    const released = require('kafkajs/src/protocol/recordBatch/crc32C/crc32C.js') as (b: Buffer) => number;
    expect(installed(Buffer.from('123456789'))).toBe(0xe3069283); // the CRC-32C check value
    for (const n of [0, 1, 3, 7, 8, 9, 63, 64, 65, 1000, 4096, 65_537]) {
      const b = randomBytes(n);
      expect(installed(b)).toBe(released(b));
      // a view into a larger buffer, as kafkajs passes its encoder's buffer
      const view = randomBytes(n + 11).subarray(5, 5 + n);
      expect(installed(view)).toBe(released(view));
    }
    setFastProduce(false);
    try {
      const b = randomBytes(100);
      expect(installed(b)).toBe(released(b));
    } finally {
      setFastProduce(true);
    }
  });

  it('murmur2 gives kafkajs’ (Java’s) hash on every key', () => {
    for (const k of keys()) expect(murmur2(k)).toBe(kafkajsMurmur2(k));
  });

  it('the partitioner picks kafkajs’ DefaultPartitioner partition for every key and partition count', () => {
    const ours = createFastPartitioner();
    const theirs = createKafkajsPartitioner();
    for (const n of [1, 3, 4, 6, 7, 12, 100]) {
      const partitionMetadata = Array.from({ length: n }, (_, i) => ({ partitionId: i, leader: i % 3 === 2 ? -1 : 1 }));
      for (const key of keys()) {
        const message = { key, value: 'v' };
        expect(ours({ topic: 't', partitionMetadata, message })).toBe(
          theirs({ topic: 't', partitionMetadata, message }),
        );
      }
      // an explicit partition wins; keyless messages go round robin over partitions with a leader
      expect(ours({ topic: 't', partitionMetadata, message: { key: 'a', partition: 0 } })).toBe(0);
      const seen = new Set<number>();
      for (let i = 0; i < 3 * n; i++) seen.add(ours({ topic: 't', partitionMetadata, message: { key: null } }));
      expect([...seen].sort((a, b) => a - b)).toEqual(
        partitionMetadata.filter((p) => p.leader >= 0).map((p) => p.partitionId),
      );
    }
  });

  it('encodes a record to the bytes of kafkajs’ record encoder', () => {
    const cases: Record<string, unknown>[] = [
      { key: null, value: null },
      { key: 'k', value: 'v', offsetDelta: 0, timestampDelta: 0 },
      { key: Buffer.from([1, 2, 3]), value: randomBytes(200), offsetDelta: 63, timestampDelta: 64 },
      { key: 'ünï', value: '日本語 ✓', offsetDelta: 64, timestampDelta: -1 },
      { key: 'k', value: randomBytes(40_000), offsetDelta: 9_999, timestampDelta: 1_733_000_000_000 },
      { key: 'k', value: 'v', offsetDelta: 2 ** 30, timestampDelta: -(2 ** 40) },
      { key: 'k', value: 'v', headers: { traceparent: '00-abc-def-01', 'feedlog-event-time': '1733000000000' } },
      { key: 'k', value: 'v', headers: { a: ['1', Buffer.from('2')], b: Buffer.alloc(0), ü: 'x'.repeat(300) } },
      { key: '', value: '', headers: {} },
      // header strings around the length written by character code, ASCII or not
      { key: 'k', value: 'v', headers: { a: 'x'.repeat(63), b: 'y'.repeat(64), c: 'z'.repeat(65) } },
      { key: 'k', value: 'v', headers: { a: `${'x'.repeat(62)}é`, b: `é${'y'.repeat(63)}`, c: '\u007f', d: '' } },
      { key: 'k', value: 'v', headers: { a: ['x'.repeat(64), `${'é'.repeat(40)}`, Buffer.from('b')], e: 'é' } },
      { key: 'k', value: 'v', headers: Object.assign(Object.create({ inherited: 'no' }), { own: 'yes' }) },
    ];
    for (let i = 0; i < 500; i++) {
      cases.push({
        key: i % 5 === 0 ? null : randomBytes(i % 40),
        value: randomBytes((i * 37) % 3_000),
        offsetDelta: i,
        timestampDelta: i * 1_000 - 50_000,
        headers: i % 2 ? { traceparent: randomBytes(20).toString('hex') } : {},
      });
    }
    for (const c of cases) {
      const ours = encodeRecord(c as never);
      expect(ours).toBeDefined();
      expect(ours?.buffer.equals(kafkajsRecord(c))).toBe(true);
      expect(Buffer.isBuffer(ours?.buf)).toBe(true);
      expect(ours?.size()).toBe(ours?.buffer.length);
    }
  });

  it('leaves what it does not handle to kafkajs’ encoder', () => {
    expect(encodeRecord({ key: 'k', value: 'v', headers: { h: null } })).toBeUndefined();
    expect(encodeRecord({ key: 'k', value: 'v', timestampDelta: Number.NaN })).toBeUndefined();
    expect(encodeRecord({ key: 1 as never, value: 'v' })).toBeUndefined();
    // through the installed module, kafkajs' encoder writes them as it always did
    const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (r: object) => { buffer: Buffer };
    expect(
      Record({ key: 'k', value: 'v', timestampDelta: Number.NaN }).buffer.equals(
        kafkajsRecord({ key: 'k', value: 'v', timestampDelta: Number.NaN }),
      ),
    ).toBe(true);
    // switched off (benchmarks: old and new in one run), the module is kafkajs' encoder again
    expect(Record({ key: 'k', value: 'v' })).toBeInstanceOf(EncodedRecord);
    setFastProduce(false);
    try {
      expect(Record({ key: 'k', value: 'v' })).not.toBeInstanceOf(EncodedRecord);
      expect(Record({ key: 'k', value: 'v' }).buffer.equals(kafkajsRecord({ key: 'k', value: 'v' }))).toBe(true);
    } finally {
      setFastProduce(true);
    }
  });
});
