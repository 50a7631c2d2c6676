import { parse } from 'csv-parse/sync';
import { ResetUsageError } from './errors.ts';
import type { CsvOffset, PlannedPartition } from './types.ts';

/**
 * A reset plan file, in the two formats of Kafka's `--export`/`--from-file`: `topic,partition,offset`
 * (one group) or `group,topic,partition,offset` (several), no header. Returns the lines for `groupId`
 * (every line of a three-column file belongs to it).
 */
export function parseOffsetsCsv(text: string, groupId: string): CsvOffset[] {
  let rows: string[][];
  try {
    rows = parse(text, { skip_empty_lines: true, trim: true, relax_column_count: true }) as string[][];
  } catch (e) {
    throw new ResetUsageError(`bad offsets file: ${(e as Error).message}`);
  }
  const out: CsvOffset[] = [];
  rows.forEach((r, i) => {
    const line = i + 1;
    if (r.length !== 3 && r.length !== 4) {
      throw new ResetUsageError(
        `bad offsets file, line ${line}: expected topic,partition,offset or group,topic,partition,offset`,
      );
    }
    const [group, topic, partition, offset] = r.length === 4 ? r : [undefined, ...r];
    if (!topic) throw new ResetUsageError(`bad offsets file, line ${line}: empty topic`);
    if (!/^\d+$/.test(partition ?? '')) {
      throw new ResetUsageError(`bad offsets file, line ${line}: partition '${partition}' is not a number`);
    }
    if (!/^-?\d+$/.test(offset ?? '')) {
      throw new ResetUsageError(`bad offsets file, line ${line}: offset '${offset}' is not a number`);
    }
    out.push({
      ...(group === undefined ? {} : { group }),
      topic,
      partition: Number(partition),
      offset: BigInt(offset!),
    });
  });
  const mine = out.filter((o) => o.group === undefined || o.group === groupId);
  if (out.length && !mine.length) {
    const groups = [...new Set(out.map((o) => o.group))].join(', ');
    throw new ResetUsageError(`no reset plan for group ${groupId} in the offsets file (it has: ${groups})`);
  }
  return mine;
}

/**
 * Quoting as Kafka's writer (jackson-dataformat-csv) does it, so an export is byte-identical: it
 * quotes any value over 24 characters without looking, and shorter ones holding a character
 * below '-' (space, quotes, comma, '#'…) or a line break.
 */
const needsQuotes = (v: string) => v.length > 24 || [...v].some((c) => c < '-');
const field = (v: string) => (needsQuotes(v) ? `"${v.replace(/"/g, '""')}"` : v);

/** The plan as Kafka's `--export` writes it: `topic,partition,offset` lines (with `group,` first when asked). */
export function formatOffsetsCsv(
  partitions: Pick<PlannedPartition, 'topic' | 'partition' | 'target'>[],
  opts: { groupId?: string } = {},
): string {
  return partitions
    .map(
      (p) =>
        `${opts.groupId === undefined ? '' : `${field(opts.groupId)},`}${field(p.topic)},${p.partition},${p.target}\n`,
    )
    .join('');
}
