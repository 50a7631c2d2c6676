import { compatibilityPartitioner } from '@platformatic/kafka';
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { brokerReason } from '../src/client/platformatic-errors.ts';
import { committedRecords, singleMember } from '../src/client/platformatic-fetch.ts';
import { clientNodeIssue, runtimeEnv } from '../src/env.ts';

const IS_TRANSACTIONAL = 0x10;
const IS_CONTROL = 0x20;

function batch(
  firstOffset: number,
  n: number,
  o: { producerId?: number; tx?: boolean; control?: 'abort' | 'commit' } = {},
) {
  const key = o.control ? Buffer.from([0, 0, 0, o.control === 'abort' ? 0 : 1]) : null;
  return {
    firstOffset: BigInt(firstOffset),
    lastOffsetDelta: n - 1,
    attributes: (o.tx || o.control ? IS_TRANSACTIONAL : 0) | (o.control ? IS_CONTROL : 0),
    producerId: BigInt(o.producerId ?? -1),
    firstTimestamp: 0n,
    records: Array.from({ length: n }, (_, i) => ({
      offsetDelta: i,
      key,
      value: null,
      headers: [],
      timestampDelta: 0n,
    })),
  } as never;
}

describe('the client seam', () => {
  it('FEEDLOG_KAFKA_CLIENT: kafkajs by default, platformatic selectable, anything else a ConfigError', () => {
    expect(runtimeEnv.parse({}).FEEDLOG_KAFKA_CLIENT).toBe('kafkajs');
    expect(runtimeEnv.parse({ FEEDLOG_KAFKA_CLIENT: 'platformatic' }).FEEDLOG_KAFKA_CLIENT).toBe('platformatic');
    expect(() => runtimeEnv.parse({ FEEDLOG_KAFKA_CLIENT: 'rdkafka' })).toThrow(/FEEDLOG_KAFKA_CLIENT/);
    expect(clientNodeIssue('platformatic', '20.19.0')).toMatch(/needs Node >= 22; this is Node 20.19.0/);
    expect(clientNodeIssue('platformatic', '24.21.0')).toBeUndefined();
    expect(clientNodeIssue('kafkajs', '20.19.0')).toBeUndefined();
  });

  it('platformatic keys land on the partitions kafkajs (and the Java client) chooses: murmur2', () => {
    const kjs = kafkajs.Partitioners.DefaultPartitioner();
    for (const n of [1, 3, 6, 7, 32])
      for (let i = 0; i < 500; i++) {
        const key = Buffer.from(`item-${i}-${(i * 2654435761) % 9973}`);
        const partitionMetadata = Array.from({ length: n }, (_, p) => ({
          partitionId: p,
          leader: 0,
          partitionErrorCode: 0,
          replicas: [0],
          isr: [0],
        }));
        const expected = kjs({ topic: 't', partitionMetadata, message: { key, value: null } });
        expect(compatibilityPartitioner({} as never, key) % n).toBe(expected);
      }
  });

  it('read_committed: aborted transactions are dropped, markers skipped, committed ones and plain records kept', () => {
    const out = committedRecords(
      [
        batch(0, 2), // plain
        batch(2, 3, { producerId: 7, tx: true }), // aborted below
        batch(5, 2, { producerId: 8, tx: true }), // committed
        batch(7, 1, { producerId: 7, control: 'abort' }),
        batch(8, 1, { producerId: 8, control: 'commit' }),
        batch(9, 2, { producerId: 7, tx: true }), // a later transaction of 7: committed
      ],
      [{ producerId: 7n, firstOffset: 2n }],
    );
    expect(out.map((r) => Number(r.offset))).toEqual([0, 1, 5, 6, 9, 10]);
  });

  it("platformatic's errors give up the broker's reason", () => {
    const inner = Object.assign(new Error('Producer attempted an operation with an old epoch.'), {
      apiId: 'INVALID_PRODUCER_EPOCH',
    });
    const response = Object.assign(
      new AggregateError([inner], 'Received response with error while executing API EndTxn(v3)'),
    );
    const top = new AggregateError([response], 'Cannot complete operation after 1 retries.');
    expect(brokerReason(top)).toBe('INVALID_PRODUCER_EPOCH: Producer attempted an operation with an old epoch.');
  });

  it('merge stages on platformatic: every partition to the member that started first, the others stand by', () => {
    const { protocolsMetadata, partitionAssigner } = singleMember(1000);
    expect(protocolsMetadata().toString()).toBe('1000');
    const members = new Map([
      ['b', { memberId: 'b', metadata: Buffer.from('1000') }],
      ['a', { memberId: 'a', metadata: Buffer.from('2000') }],
      ['c', { memberId: 'c', metadata: Buffer.from('1000') }],
    ]);
    const out = partitionAssigner('x', members, new Set(['in']), { topics: new Map([['in', { partitionsCount: 3 }]]) });
    const by = Object.fromEntries(out.map((m) => [m.memberId, [...m.assignments.values()]]));
    expect(by).toEqual({ b: [{ topic: 'in', partitions: [0, 1, 2] }], a: [], c: [] });
  });
});
