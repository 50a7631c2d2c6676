import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

/**
 * kafkajs 2.2.4 `src/producer/groupMessagesPerPartition.js` copied its partition's array for every
 * message (`[...current, message]`): quadratic in the records per partition, 15 % of a stage's CPU
 * at 10k-record transactions (bench/stages.ts profile, issue 14). patches/kafkajs+2.2.4.patch
 * groups in one pass; the grouping must stay exactly what kafkajs produced.
 */
const require = createRequire(import.meta.url);
const path = require.resolve('kafkajs/src/producer/groupMessagesPerPartition.js');
const group = require(path) as (o: {
  topic: string;
  partitionMetadata: unknown[];
  messages: { value: string; partition?: number }[];
  partitioner: (o: { message: { value: string; partition?: number } }) => number;
}) => Record<number, { value: string }[]>;

describe('kafkajs groupMessagesPerPartition (patched)', () => {
  it('groups messages by the partitioner, in send order, in one pass', () => {
    const messages = Array.from({ length: 10_000 }, (_, i) => ({ value: `m${i}`, partition: i % 3 }));
    const out = group({
      topic: 't',
      partitionMetadata: [{}, {}, {}],
      messages,
      partitioner: ({ message }) => message.partition ?? 0,
    });
    expect(Object.keys(out)).toEqual(['0', '1', '2']);
    for (const p of [0, 1, 2])
      expect(out[p]?.map((m) => m.value)).toEqual(messages.filter((m) => m.partition === p).map((m) => m.value));
    expect(group({ topic: 't', partitionMetadata: [], messages, partitioner: () => 0 })).toEqual({});
    // the installed file is the patched one (npm ci applies patches/ through patch-package)
    expect(readFileSync(path, 'utf8')).toContain('feedlog patch: one pass');
  });
});
