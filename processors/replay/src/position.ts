import { existsSync, readFileSync } from 'node:fs';
import type { Admin } from 'kafkajs';
import { ReplayUsageError, type StartPosition } from './types.ts';

export type FromSpec = { kind: 'earliest' } | { kind: 'datetime'; at: Date } | { kind: 'offsets'; file: string };

/** `earliest`, an ISO 8601 date-time, or a file of `topic,partition,offset` lines (as `kafka-consumer-groups --export` writes). */
export function parseFrom(v: string | undefined): FromSpec {
  if (v === undefined || v === '' || v === 'earliest') return { kind: 'earliest' };
  if (/^\d{4}-\d{2}-\d{2}/.test(v)) {
    const at = new Date(v);
    if (Number.isNaN(at.getTime())) throw new ReplayUsageError(`--from ${v}: not a valid ISO date-time`);
    return { kind: 'datetime', at };
  }
  if (existsSync(v)) return { kind: 'offsets', file: v };
  throw new ReplayUsageError(
    `--from ${v}: expected earliest, an ISO date-time (2024-05-01T00:00:00Z) or an offsets file`,
  );
}

/** The `topic,partition,offset` lines of an offsets file for `topic` (other topics' lines are ignored). */
export function readOffsetsFile(file: string, topic: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const [i, line] of readFileSync(file, 'utf8').split(/\r?\n/).entries()) {
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    const [tp, p, o] = t.split(',').map((s) => s.trim());
    const partition = Number(p);
    const offset = Number(o);
    if (!tp || !Number.isInteger(partition) || !Number.isInteger(offset) || partition < 0 || offset < 0)
      throw new ReplayUsageError(`${file}:${i + 1}: expected topic,partition,offset, got ${JSON.stringify(t)}`);
    if (tp === topic) out.set(partition, offset);
  }
  if (out.size === 0) throw new ReplayUsageError(`${file}: no line for topic ${topic}`);
  return out;
}

/**
 * Per partition of `topic`, the offset a new group starts at, clamped to the log's bounds the way
 * Kafka's own reset does. A partition an offsets file does not name starts at its log end.
 */
export async function resolvePosition(admin: Admin, topic: string, from: FromSpec | 'log-end'): Promise<StartPosition> {
  const bounds = await admin.fetchTopicOffsets(topic);
  const clamp = (p: number, o: number) => {
    const b = bounds.find((x) => x.partition === p);
    return b ? Math.min(Math.max(o, Number(b.low)), Number(b.high)) : o;
  };
  if (from === 'log-end')
    return { kind: 'log-end', partitions: bounds.map((b) => ({ partition: b.partition, offset: Number(b.high) })) };
  if (from.kind === 'earliest')
    return { kind: 'earliest', partitions: bounds.map((b) => ({ partition: b.partition, offset: Number(b.low) })) };
  if (from.kind === 'datetime') {
    const byTime = await admin.fetchTopicOffsetsByTimestamp(topic, from.at.getTime());
    return {
      kind: 'datetime',
      at: from.at.toISOString(),
      // -1: no record at or after the time: the log end
      partitions: byTime.map((x) => {
        const o = Number(x.offset);
        const high = Number(bounds.find((b) => b.partition === x.partition)?.high ?? 0);
        return { partition: x.partition, offset: o < 0 ? high : clamp(x.partition, o) };
      }),
    };
  }
  const file = readOffsetsFile(from.file, topic);
  return {
    kind: 'offsets',
    file: from.file,
    partitions: bounds.map((b) => ({
      partition: b.partition,
      offset: clamp(b.partition, file.get(b.partition) ?? Number(b.high)),
    })),
  };
}
