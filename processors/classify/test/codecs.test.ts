import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  type ClassifiedHeadline,
  type RawHeadline,
  type RegistryRestClient,
  sampleRecords,
  serdeFor,
  writeFrame,
} from '@feedlog/schemas';
import { describe, expect, it, vi } from 'vitest';
import { classificationWriter, classifyCodecs } from '../src/codecs.ts';
import { DEFAULT_FIXTURE } from '../src/default-model.ts';
import { loadDataset } from '../src/index.ts';

// a registry with one id per subject, serving the local schemas
function serdes() {
  const ids: Record<string, number> = { 'raw-headlines-value': 1, 'classified-value': 2 };
  const registry = {
    lookupId: async (subject: string) => ids[subject],
    schemaById: async (id: number) => ({ schema: JSON.stringify((id === 1 ? raw : classified).type.schema()) }),
  } as unknown as RegistryRestClient;
  const raw = serdeFor('RawHeadline', 'raw-headlines', { registry });
  const classified = serdeFor('ClassifiedHeadline', 'classified', { registry });
  return { raw, classified };
}

const input = sampleRecords().RawHeadline;
const classification = sampleRecords().ClassifiedHeadline.classification;
const out = (v: typeof input): ClassifiedHeadline => ({
  item_id: v.item_id,
  job_id: v.job_id,
  headline: v.headline,
  classification,
});

describe('the classify codecs: an output copies its input bytes', () => {
  it('writes the bytes of a full encode, copying the input payload once the input decoded through it', async () => {
    const { raw, classified } = serdes();
    const { input: inC, output: outC } = classifyCodecs(raw, classified);
    const values = [input, { ...input, item_id: 'é-2', headline: { ...input.headline, title: 'ü'.repeat(70_000) } }];
    const frames = await Promise.all(values.map((v) => raw.encode(v)));
    await classified.schemaId();
    const first = await inC.decode(frames[0]!); // fetches the writer schema
    const decoded = [first, inC.decodeNow?.(frames[1]!)];
    for (const [i, d] of decoded.entries()) {
      expect(d).toEqual(values[i]);
      const o = out(d!);
      const copied = outC.encodeNow?.(o, 'classified-value');
      expect(copied?.equals(writeFrame(2, classified.type.toBuffer(o)))).toBe(true);
      expect(await outC.decode(copied!)).toEqual(o);
    }
  });

  it('encodes the whole value when it is not the decoded input (another item_id, a new headline), with the same errors', async () => {
    const { raw, classified } = serdes();
    const { input: inC, output: outC } = classifyCodecs(raw, classified);
    await classified.schemaId();
    const d = await inC.decode(await raw.encode(input));
    for (const o of [
      { ...out(d), item_id: 'other' },
      { ...out(d), headline: { ...d.headline, title: 'changed' } },
    ]) {
      expect(outC.encodeNow?.(o, 'classified-value')?.equals(writeFrame(2, classified.type.toBuffer(o)))).toBe(true);
    }
    const bad = { ...out(d), classification: { ...classification, confidence: 'high' } } as never;
    expect(() => outC.encodeNow?.(bad, 'classified-value')).toThrow(
      /does not match its schema at classification.confidence/,
    );
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
        const d = inC.decodeNow?.(frame) ?? (await inC.decode(frame));
        expect(d).toEqual(v);
        const o: ClassifiedHeadline = {
          item_id: d!.item_id,
          job_id: d!.job_id,
          headline: d!.headline,
          classification: { category: e.label, confidence: odd[i % odd.length] ?? (i % 997) / 997, run },
        };
        const bytes = outC.encodeNow?.(o, 'classified-value');
        if (!bytes?.equals(writeFrame(2, classified.type.toBuffer(o)))) throw new Error(`${what} row ${i} differs`);
        checked++;
      }
      expect(checked).toBe(ds.examples.length);
      expect(whole).not.toHaveBeenCalled();
    });

  it('re-encodes a run changed in place, and throws what avsc throws for a bad category or confidence', async () => {
    const { raw, classified } = serdes();
    const { input: inC, output: outC } = classifyCodecs(raw, classified);
    await classified.schemaId();
    const d = inC.decodeNow?.(await raw.encode(input)) ?? (await inC.decode(await raw.encode(input)));
    const run = { ...classification.run };
    const o = { ...out(d), classification: { ...classification, run } };
    const same = () => outC.encodeNow?.(o, 'classified-value')?.equals(writeFrame(2, classified.type.toBuffer(o)));
    expect(same()).toBe(true);
    run.model_version = `${run.model_version}-changed`;
    expect(same()).toBe(true);
    run.produced_at += 1;
    expect(same()).toBe(true);
    const bad = { ...o, classification: { ...o.classification, category: 3 } } as never;
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
