import type { Decoded } from './decode.ts';

/** One consumed record as tail and item show it. */
export interface SeenRecord {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  /** the record's Kafka timestamp, epoch ms */
  timestamp: number;
  decoded: Decoded;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Buffer.isBuffer(v) && !Array.isArray(v);
const get = (v: unknown, ...path: string[]): unknown =>
  path.reduce<unknown>((o, k) => (isObj(o) ? o[k] : undefined), v);

/** Short record name: `dev.feedlog.RawHeadline` → `RawHeadline`. */
export const shortName = (record: string): string => record.slice(record.lastIndexOf('.') + 1);

// The block each stage adds, newest first: the last one present is the stage that wrote the record.
const blocks = ['index', 'embedding', 'story', 'classification'] as const;

/** Generation of the stage that wrote the record (its newest block's run, or a dead letter's own). */
export function generationOf(value: unknown): number | null {
  for (const b of blocks) {
    const g = get(value, b, 'run', 'generation');
    if (typeof g === 'number') return g;
  }
  const g = get(value, 'generation');
  return typeof g === 'number' ? g : null;
}

const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** A one-line summary of what the record says, by what it carries. */
export function summarize(d: Decoded): string {
  if (!d.ok) return `UNDECODABLE ${d.bytes} B 0x${d.hex}${d.bytes > d.hex.length / 2 ? '…' : ''}: ${d.reason}`;
  const v = d.value;
  const parts: string[] = [];
  if (typeof get(v, 'error_class') === 'string') {
    parts.push(`DLQ ${get(v, 'stage')} ${get(v, 'error_class')}: ${clip(String(get(v, 'error_message')), 80)}`);
    parts.push(`from ${get(v, 'source_topic')}/${get(v, 'source_partition')}@${get(v, 'source_offset')}`);
    return parts.join(' ');
  }
  const title = get(v, 'headline', 'title');
  if (typeof title === 'string') parts.push(JSON.stringify(clip(title, 60)));
  const category = get(v, 'classification', 'category');
  if (typeof category === 'string') {
    const conf = get(v, 'classification', 'confidence');
    parts.push(`category=${category}${typeof conf === 'number' ? `(${conf.toFixed(2)})` : ''}`);
  }
  const story = get(v, 'story', 'story_id');
  if (typeof story === 'string') parts.push(`story=${clip(story, 14)}${get(v, 'story', 'is_new') ? '(new)' : ''}`);
  const dims = get(v, 'embedding', 'dimensions');
  if (typeof dims === 'number') parts.push(`dims=${dims}`);
  const coll = get(v, 'index', 'collection');
  if (typeof coll === 'string') parts.push(`collection=${coll}`);
  const job = get(v, 'job_id');
  if (typeof job === 'string') parts.push(`job=${clip(job, 14)}`);
  return `${shortName(d.record)} ${parts.join(' ')}`;
}

const MAX_BYTES_SHOWN = 24;

/**
 * The decoded value made JSON-safe and short: bytes as hex (vectors and original payloads cut to
 * a prefix with their length), longs as numbers.
 */
export function shorten(v: unknown): unknown {
  if (Buffer.isBuffer(v)) {
    const hex = v.subarray(0, MAX_BYTES_SHOWN).toString('hex');
    return v.length > MAX_BYTES_SHOWN ? `0x${hex}… (${v.length} bytes)` : `0x${hex}`;
  }
  if (Array.isArray(v)) return v.length > 8 ? [...v.slice(0, 8).map(shorten), `… ${v.length} items`] : v.map(shorten);
  if (typeof v === 'bigint') return Number(v);
  if (isObj(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shorten(x)]));
  return v;
}

/** The record as `--json` prints it (one JSON document per line). */
export function recordJson(r: SeenRecord): Obj {
  const d = r.decoded;
  return {
    topic: r.topic,
    partition: r.partition,
    offset: r.offset,
    key: r.key,
    time: new Date(r.timestamp).toISOString(),
    generation: d.ok ? generationOf(d.value) : null,
    ...(d.ok
      ? { schemaId: d.schemaId, record: shortName(d.record), value: shorten(d.value) }
      : { undecodable: { reason: d.reason, bytes: d.bytes, hexPrefix: d.hex } }),
  };
}

/** The human line: topic partition offset key time generation summary. */
export function recordLine(r: SeenRecord): string {
  const gen = r.decoded.ok ? generationOf(r.decoded.value) : null;
  return [
    `${r.topic}[${r.partition}]@${r.offset}`,
    r.key ?? '<null>',
    new Date(r.timestamp).toISOString(),
    `g${gen ?? '-'}`,
    summarize(r.decoded),
  ].join('  ');
}
