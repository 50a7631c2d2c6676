import type { Codec } from '@feedlog/runtime';
import type { Classification, ClassifiedHeadline, RawHeadline, Serde } from '@feedlog/schemas';
import {
  PayloadRawHeadline,
  type PayloadReaders,
  payloadOf,
  READ_FIELDS,
  type ReadFields,
} from './payload-headline.ts';

/** What the tail writer needs of an avsc type (the Serde's `fieldsAfter` gives avsc's own). */
interface AvroType {
  readonly typeName: string;
  toBuffer(value: unknown): Buffer;
}
interface AvroField {
  readonly name: string;
  readonly type: AvroType & { readonly fields?: readonly AvroField[] };
}

/** Labels whose bytes are kept: a model has a handful; a bound so that odd values cannot grow it. */
const MAX_LABELS = 1024;

/**
 * The `classification` field's Avro bytes, written from bytes kept between records: a record's
 * category is one of the model's few labels and its `run` is the batch's, so only `confidence` (a
 * double: 8 bytes, little-endian, as avsc writes it) differs from record to record. Category and
 * run bytes are avsc's own encodings (`toBuffer`, which checks the value), so the result is the
 * bytes of avsc's walk over the field. `undefined` when `fields` (ClassifiedHeadline's after
 * RawHeadline's) is not exactly `classification { category: string, confidence: double, run:
 * record }`: a schema change then falls back to avsc's walk instead of writing wrong bytes.
 */
export function classificationWriter(
  fields: readonly AvroField[] | null,
): ((c: Classification, buf: Buffer, pos: number) => number) | undefined {
  const [only] = fields ?? [];
  const [category, confidence, run, ...more] = only?.type.fields ?? [];
  if (
    fields?.length !== 1 ||
    only?.name !== 'classification' ||
    category?.name !== 'category' ||
    category.type.typeName !== 'string' ||
    confidence?.name !== 'confidence' ||
    confidence.type.typeName !== 'double' ||
    run?.name !== 'run' ||
    run.type.typeName !== 'record' ||
    more.length > 0
  )
    return undefined;
  const labels = new Map<string, Buffer>();
  // the last run written and its bytes; compared by value, so a run object changed in place is re-encoded
  let last: Classification['run'] | undefined;
  let runBytes: Buffer = Buffer.alloc(0);
  return (c, buf, pos) => {
    if (typeof c.confidence !== 'number') throw new TypeError('confidence is not a number'); // avsc's check
    let cat = labels.get(c.category);
    if (cat === undefined) {
      cat = category.type.toBuffer(c.category); // throws for a non-string, as avsc's walk would
      if (labels.size >= MAX_LABELS) labels.clear();
      labels.set(c.category, cat);
    }
    const r = c.run;
    if (
      last === undefined ||
      r.model_name !== last.model_name ||
      r.model_version !== last.model_version ||
      r.generation !== last.generation ||
      r.produced_at !== last.produced_at
    ) {
      runBytes = run.type.toBuffer(r);
      last = {
        model_name: r.model_name,
        model_version: r.model_version,
        generation: r.generation,
        produced_at: r.produced_at,
      };
    }
    const end = pos + cat.length + 8 + runBytes.length;
    if (end > buf.length) return buf.length - end; // what avsc returns when the buffer is short
    buf.set(cat, pos);
    buf.writeDoubleLE(c.confidence, pos + cat.length);
    buf.set(runBytes, end - runBytes.length);
    return end;
  };
}

/**
 * The classify stage's codecs. A ClassifiedHeadline is its RawHeadline's fields (item_id, job_id,
 * headline: the same schema, in the same order) plus `classification`, so its Avro encoding begins
 * with the input's payload. When the input was written with the local RawHeadline schema, the
 * input codec decodes only what the stage reads (a PayloadRawHeadline: the rest on demand) and the
 * output codec copies the payload and encodes only the classification (`Serde.encodeNowExtending`,
 * from the bytes of its label and run kept between records: `classificationWriter`), instead of
 * making every string of the headline and walking them again. The bytes are those of a full encode.
 *
 * The output codec copies the payload only for an output of `classifiedOf` whose input and leading
 * fields were not changed since (`payloadOf`), and encodes the whole value otherwise. Any other
 * writer schema is decoded whole (resolved into the local one) and its outputs encoded whole.
 */
export function classifyCodecs(
  raw: Serde<'RawHeadline'>,
  classified: Serde<'ClassifiedHeadline'>,
): { input: Codec<RawHeadline>; output: Codec<ClassifiedHeadline> } {
  const readers: PayloadReaders = {
    read: raw.projection<{ headline: ReadFields }>({ headline: READ_FIELDS }),
    full: (payload) => raw.decodePayload(payload),
  };
  // a frame of the local schema (whose id was fetched): read lazily; else undefined
  const lazily = (buf: Buffer): RawHeadline | undefined => {
    const payload = raw.localPayload(buf);
    return payload && new PayloadRawHeadline(payload, readers);
  };
  const writeClassification = classificationWriter(classified.fieldsAfter(raw));
  const writeTail =
    writeClassification &&
    ((v: ClassifiedHeadline, buf: Buffer, pos: number) => writeClassification(v.classification, buf, pos));
  const input: Codec<RawHeadline> = {
    // the first frame of a schema id fetches it (and is decoded whole); the next are read lazily
    decode: async (buf) => lazily(buf) ?? raw.decode(buf),
    decodeNow: (buf) => lazily(buf) ?? raw.decodeNow(buf),
    encode: (value) => raw.encode(value),
  };
  const output: Codec<ClassifiedHeadline> = {
    decode: (buf) => classified.decode(buf),
    decodeNow: (buf) => classified.decodeNow(buf),
    encode: (value) => classified.encode(value),
    encodeNow(value) {
      const payload = payloadOf(value);
      if (payload) return classified.encodeNowExtending(raw, payload, value, writeTail) ?? classified.encodeNow(value);
      return classified.encodeNow(value);
    },
  };
  return { input, output };
}
