import { kafkaTool } from '@feedlog/test/kafka-tools';
import type { Admin } from '@platformatic/kafka';
import type { Kafka } from 'kafkajs';
import { committedOffsets } from '../src/kafka.ts';

export const HOUR = 3_600_000;

/** Produces `counts[p]` records to partition p, record i stamped `base + i·hour` (explicit timestamps). */
export async function produceTimed(kafka: Kafka, topic: string, counts: number[], base: number): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    await producer.send({
      topic,
      acks: -1,
      messages: counts.flatMap((n, partition) =>
        Array.from({ length: n }, (_, i) => ({
          partition,
          key: `k${partition}.${i}`,
          value: `v${partition}.${i}`,
          timestamp: String(base + i * HOUR),
        })),
      ),
    });
  } finally {
    await producer.disconnect();
  }
}

export type Offsets = Record<string, number[]>; // topic → committed offset per partition (-1: none)

/** Commits the given offsets for a (new, memberless) group. */
export async function seedGroup(admin: Admin, groupId: string, offsets: Offsets): Promise<void> {
  await admin.alterConsumerGroupOffsets({
    groupId,
    topics: Object.entries(offsets).map(([name, os]) => ({
      name,
      partitionOffsets: os.flatMap((o, partition) => (o < 0 ? [] : [{ partition, offset: BigInt(o) }])),
    })),
  });
}

/** `topic:partition → offset` lines, sorted: the form both sides are compared in. */
export const lines = (m: Iterable<[string, bigint | string | number]>): string[] =>
  [...m].map(([k, v]) => `${k.replace('\u0000', ':')}=${v}`).sort();

export async function committedLines(admin: Admin, groupId: string): Promise<string[]> {
  return lines(await committedOffsets(admin, groupId));
}

export interface ToolPlan {
  code: number | null;
  rows: string[];
  /** Kafka's tool prints errors on stdout ("Error: …") or as usage text. */
  error: string | null;
  stdout: string;
}

/** Runs `kafka-consumer-groups --reset-offsets` and parses its GROUP TOPIC PARTITION NEW-OFFSET table. */
export async function toolReset(groupId: string, args: string[]): Promise<ToolPlan> {
  const r = await kafkaTool('kafka-consumer-groups', [
    '--reset-offsets',
    '--timeout',
    '30000',
    '--group',
    groupId,
    ...args,
  ]);
  // 3.9's table has no line breaks between rows ("%-Ns %-Ms %-10s %-15s" per row): read it as
  // a stream of GROUP TOPIC PARTITION NEW-OFFSET tokens after the header.
  const rows: string[] = [];
  const at = r.stdout.indexOf('NEW-OFFSET');
  const tokens =
    at < 0
      ? []
      : r.stdout
          .slice(at + 'NEW-OFFSET'.length)
          .trim()
          .split(/\s+/);
  for (let i = 0; i + 3 < tokens.length; ) {
    const [g, topic, partition, offset] = tokens.slice(i, i + 4);
    if (g === groupId && /^\d+$/.test(partition!) && /^-?\d+$/.test(offset!)) {
      rows.push(`${topic}:${partition}=${offset}`);
      i += 4;
    } else i++;
  }
  const err =
    /Error: .*|Cannot shift offset[^\n]*|Exception[^\n]*/.exec(`${r.stdout}\n${r.stderr}`)?.[0] ??
    (r.code !== 0 ? `exit ${r.code}` : null);
  return { code: r.code, rows: rows.sort(), error: err, stdout: r.stdout };
}
