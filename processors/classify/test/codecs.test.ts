import {
  type ClassifiedHeadline,
  type RegistryRestClient,
  sampleRecords,
  serdeFor,
  writeFrame,
} from '@feedlog/schemas';
import { describe, expect, it } from 'vitest';
import { classifyCodecs } from '../src/codecs.ts';

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
