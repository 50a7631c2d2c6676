import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  type ClassifiedHeadline,
  PayloadDecodeError,
  type RawHeadline,
  type RegistryRestClient,
  sampleRecords,
  serdeFor,
  writeFrame,
} from '@feedlog/schemas';
import avro from 'avsc';
import { describe, expect, it, vi } from 'vitest';
import { classificationWriter, classifyCodecs } from '../src/codecs.ts';
import { DEFAULT_FIXTURE } from '../src/default-model.ts';
import { loadDataset } from '../src/index.ts';
import { classifiedOf, PayloadRawHeadline, payloadOf } from '../src/payload-headline.ts';

// a registry with one id per subject, serving the local schemas; id 3: RawHeadline as another
// writer wrote it (a field more, the headline's fields in another order)
function serdes() {
  const ids: Record<string, number> = { 'raw-headlines-value': 1, 'classified-value': 2 };
  const registry = {
    lookupId: async (subject: string) => ids[subject],
    schemaById: async (id: number) => ({
      schema: JSON.stringify(id === 1 ? raw.type.schema() : id === 3 ? otherWriter() : classified.type.schema()),
    }),
  } as unknown as RegistryRestClient;
  const raw = serdeFor('RawHeadline', 'raw-headlines', { registry });
  const classified = serdeFor('ClassifiedHeadline', 'classified', { registry });
  const otherWriter = () => {
    const s = raw.type.schema() as { fields: { name: string; type: { fields?: unknown[] } }[] };
    const h = s.fields.find((f) => f.name === 'headline')!;
    return {
      ...s,
      fields: [
        ...s.fields.filter((f) => f !== h),
        { ...h, type: { ...h.type, fields: [...(h.type.fields ?? [])].reverse() } },
        { name: 'lang', type: 'string', default: 'en' },
      ],
    };
  };
  return { raw, classified, otherWriter };
}

/** The fields of a value as a plain object (a PayloadRawHeadline's are accessors). */
const plain = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

const input = sampleRecords().RawHeadline;
const classification = sampleRecords().ClassifiedHeadline.classification;
const out = (v: typeof input): ClassifiedHeadline => classifiedOf(v, classification);

describe('the classify codecs: an input read lazily, an output that copies its bytes', () => {
  it('writes the bytes of a full encode, copying the input payload once the input decoded through it', async () => {
    const { raw, classified } = serdes();
    const { input: inC, output: outC } = classifyCodecs(raw, classified);
    const values = [input, { ...input, item_id: 'é-2', headline: { ...input.headline, title: 'ü'.repeat(70_000) } }];
    const frames = await Promise.all(values.map((v) => raw.encode(v)));
    await classified.schemaId();
    const first = await inC.decode(frames[0]!); // fetches the writer schema: decoded whole
    expect(first).not.toBeInstanceOf(PayloadRawHeadline);
    const decoded = [first, inC.decodeNow?.(frames[1]!), await inC.decode(frames[0]!)];
    expect(decoded[1]).toBeInstanceOf(PayloadRawHeadline);
    expect(decoded[2]).toBeInstanceOf(PayloadRawHeadline);
    for (const [i, d] of decoded.entries()) {
      const v = values[i % 2]!;
      expect(plain(d)).toEqual(v);
      expect([d!.item_id, d!.job_id, d!.headline.source, d!.headline.url, d!.headline.guid]).toEqual([
        v.item_id,
        v.job_id,
        v.headline.source,
        v.headline.url,
        v.headline.guid,
      ]);
      const o = out(d!);
      expect(payloadOf(o) !== undefined).toBe(i > 0);
      const copied = outC.encodeNow?.(o, 'classified-value');
      expect(copied?.equals(writeFrame(2, classified.type.toBuffer(plain(o))))).toBe(true);
      expect(await outC.decode(copied!)).toEqual(plain(o));
    }
  });

  it('encodes the whole value once the input or the output was changed, or was not the decoded input', async () => {
    const { raw, classified } = serdes();
    const { input: inC, output: outC } = classifyCodecs(raw, classified);
    await classified.schemaId();
    await inC.decode(await raw.encode(input)); // fetches the writer schema
    const lazy = async () => (await inC.decode(await raw.encode(input))) as PayloadRawHeadline;
    const changes: [string, (o: ClassifiedHeadline, d: RawHeadline) => void][] = [
      [
        'output item_id',
        (o) => {
          o.item_id = 'other';
        },
      ],
      [
        'output job_id',
        (o) => {
          o.job_id = 'job-x';
        },
      ],
      [
        'output headline',
        (o, d) => {
          o.headline = { ...plain(d.headline), title: 'new' };
        },
      ],
      [
        'input item_id',
        (_, d) => {
          d.item_id = 'other';
        },
      ],
      [
        'input headline',
        (_, d) => {
          d.headline = { ...plain(d.headline), url: 'https://x.test/' };
        },
      ],
      [
        'a read field',
        (o) => {
          o.headline.title = 'changed';
        },
      ],
      [
        'a skipped field',
        (_, d) => {
          d.headline.source = 'elsewhere';
        },
      ],
      [
        'the event time',
        (_, d) => {
          d.headline.published_at = null;
        },
      ],
    ];
    for (const [what, change] of changes) {
      const d = await lazy();
      const o = out(d);
      const before = plain(o);
      change(o, d);
      expect(payloadOf(o), what).toBeUndefined();
      expect(plain(o), what).not.toEqual(before);
      const bytes = outC.encodeNow?.(o, 'classified-value');
      expect(bytes?.equals(writeFrame(2, classified.type.toBuffer(plain(o)))), what).toBe(true);
      expect(await outC.decode(bytes!), what).toEqual(plain(o));
    }
    const spread = { ...plain(out(await lazy())), item_id: 'other' };
    expect(outC.encodeNow?.(spread, 'classified-value')?.equals(writeFrame(2, classified.type.toBuffer(spread)))).toBe(
      true,
    );
    const bad = { ...plain(out(await lazy())), classification: { ...classification, confidence: 'high' } } as never;
    expect(() => outC.encodeNow?.(bad, 'classified-value')).toThrow(
      /does not match its schema at classification.confidence/,
    );
  });

  it('decodes a record of another writer schema whole (resolved into the local one) and encodes its output whole', async () => {
    const { raw, classified, otherWriter } = serdes();
    const { input: inC, output: outC } = classifyCodecs(raw, classified);
    await classified.schemaId();
    const writer = avro.Type.forSchema(otherWriter() as avro.Schema);
    const frame = writeFrame(3, writer.toBuffer({ ...input, lang: 'de' }));
    for (const d of [await inC.decode(frame), inC.decodeNow?.(frame)]) {
      expect(d).not.toBeInstanceOf(PayloadRawHeadline);
      expect(d).toEqual(input);
      const o = out(d!);
      expect(payloadOf(o)).toBeUndefined();
      expect(outC.encodeNow?.(o, 'classified-value')?.equals(writeFrame(2, classified.type.toBuffer(o)))).toBe(true);
    }
  });

  it('dead-letters what the projection cannot read with the typed error of decode', async () => {
    const { raw, classified } = serdes();
    const { input: inC } = classifyCodecs(raw, classified);
    const frame = await raw.encode(input);
    await inC.decode(frame);
    const cut = frame.subarray(0, frame.length - 3);
    expect(() => inC.decodeNow?.(cut)).toThrow(PayloadDecodeError);
    await expect(inC.decode(cut)).rejects.toThrow(PayloadDecodeError);
  });
});

// ../shared/data beside the repository (as on CI), or FEEDLOG_SHARED_DATA; the bundled fixture always
const DATA_ROOT = process.env.FEEDLOG_SHARED_DATA ?? fileURLToPath(new URL('../../../../shared/data', import.meta.url));
const sets = [
  ['fixture', DEFAULT_FIXTURE],
  ['UCI', `${DATA_ROOT}/uci/stories-dev.csv`],
  ['AG News', `${DATA_ROOT}/ag_news/ag_news-dev.csv`],
] as const;
for (const [what, file] of sets)
  if (!existsSync(file))
    console.warn(`SKIPPED: classify codec bytes on ${what}: ${file} not found (set FEEDLOG_SHARED_DATA)`);

describe('the classification written from kept label and run bytes', () => {
  for (const [what, file] of sets)
    it.skipIf(!existsSync(file))(`gives the bytes of avsc's full encode on every ${what} row`, async () => {
      const { raw, classified } = serdes();
      const { input: inC, output: outC } = classifyCodecs(raw, classified);
      await classified.schemaId();
      const ds = loadDataset(file);
      await inC.decode(await raw.encode(input)); // fetches the writer schema
      // the whole value through avsc would be the fallback: never taken here
      const whole = vi.spyOn(classified as unknown as { write: () => Buffer }, 'write');
      // a new run every 1,000 records (a batch), confidences of every kind a double can be
      const odd = [0, 1, -0, Number.NaN, 1e-300, 0.1 + 0.2, Number.MAX_VALUE];
      let run = classification.run;
      let checked = 0;
      for (const [i, e] of ds.examples.entries()) {
        if (i % 1000 === 0) run = { ...run, produced_at: run.produced_at + i, generation: 1 + (i % 3) };
        const v: RawHeadline = {
          item_id: `item-${i}`,
          job_id: `job-${i % 7}`,
          headline: {
            ...input.headline,
            url: `https://example.test/${i}`,
            title: e.title,
            summary: e.summary ?? null,
            published_at: i % 5 === 0 ? null : 1_394_471_386_119 + i,
          },
        };
        const frame = await raw.encode(v);
        const d = inC.decodeNow?.(frame);
        if (!(d instanceof PayloadRawHeadline)) throw new Error(`${what} row ${i} not read lazily`);
        // the fields the stage reads, from the projection
        expect([d.headline.title, d.headline.summary, d.headline.published_at, d.headline.ingested_at]).toEqual([
          v.headline.title,
          v.headline.summary,
          v.headline.published_at,
          v.headline.ingested_at,
        ]);
        const o = classifiedOf(d, {
          category: e.label,
          confidence: odd[i % odd.length] ?? (i % 997) / 997,
          run,
        });
        const bytes = outC.encodeNow?.(o, 'classified-value');
        // the old path: avsc's walk over the whole value
        const old = writeFrame(2, classified.type.toBuffer({ ...v, classification: o.classification }));
        if (!bytes?.equals(old)) throw new Error(`${what} row ${i} differs`);
        expect(plain(d)).toEqual(v);
        checked++;
      }
      expect(checked).toBe(ds.examples.length);
      expect(whole).not.toHaveBeenCalled();
    });

  it('re-encodes a run changed in place, and throws what avsc throws for a bad category or confidence', async () => {
    const { raw, classified } = serdes();
    const { input: inC, output: outC } = classifyCodecs(raw, classified);
    await classified.schemaId();
    await inC.decode(await raw.encode(input)); // fetches the writer schema
    const d = inC.decodeNow?.(await raw.encode(input));
    const run = { ...classification.run };
    const o = classifiedOf(d!, { ...classification, run });
    expect(payloadOf(o)).toBeDefined();
    const same = () =>
      outC.encodeNow?.(o, 'classified-value')?.equals(writeFrame(2, classified.type.toBuffer(plain(o))));
    expect(same()).toBe(true);
    run.model_version = `${run.model_version}-changed`;
    expect(same()).toBe(true);
    run.produced_at += 1;
    expect(same()).toBe(true);
    const bad = classifiedOf(d!, { ...classification, category: 3 } as never);
    expect(() => outC.encodeNow?.(bad, 'classified-value')).toThrow(/classification.category/);
  });

  it('is not used for a classification of another shape', () => {
    const { raw, classified } = serdes();
    expect(classificationWriter(classified.fieldsAfter(raw))).toBeTypeOf('function');
    const fields = classified.fieldsAfter(raw) ?? [];
    expect(classificationWriter([])).toBeUndefined();
    expect(classificationWriter(null)).toBeUndefined();
    expect(classificationWriter([...fields, ...fields])).toBeUndefined();
    // classification's own fields in another order
    const c = fields[0]!;
    const reordered = {
      name: c.name,
      type: {
        ...c.type,
        typeName: 'record',
        toBuffer: () => Buffer.alloc(0),
        fields: [...(c.type as unknown as { fields: never[] }).fields].reverse(),
      },
    };
    expect(classificationWriter([reordered])).toBeUndefined();
  });
});
