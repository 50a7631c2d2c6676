import { describe, expect, it } from 'vitest';
import {
  PayloadDecodeError,
  RecordEncodeError,
  RegistryUnavailableError,
  TruncatedMessageError,
  WrongMagicByteError,
} from '../src/errors.ts';
import { sampleRecords } from '../src/fixtures.ts';
import type { RegistryRestClient } from '../src/registry.ts';
import { serdeFor } from '../src/serde.ts';
import { writeFrame } from '../src/wire.ts';

// A port nothing listens on: the header checks must fail before any registry call,
// and a registry call must fail as a retriable error.
const offline = { registryUrl: 'http://127.0.0.1:9' };

describe('Serde without a registry', () => {
  const serde = serdeFor('RawHeadline', 'raw-headlines', offline);

  it('rejects a wrong magic byte as a non-retriable typed error', async () => {
    const err = await serde.decode(Buffer.from([1, 0, 0, 0, 1, 2, 3])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WrongMagicByteError);
    expect(err).toMatchObject({
      retriable: false,
      code: 'FEEDLOG_WIRE_BAD_MAGIC_BYTE',
      magicByte: 1,
      topic: 'raw-headlines',
    });
  });

  it('rejects a message shorter than the header', async () => {
    const err = await serde.decode(Buffer.from([0, 0, 1])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TruncatedMessageError);
    expect(err).toMatchObject({ retriable: false });
  });

  it('reports an unreachable registry as retriable', async () => {
    const err = await serde.decode(Buffer.from([0, 0, 0, 0, 7, 2])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryUnavailableError);
    expect(err).toMatchObject({ retriable: true });
    const enc = await serde.encode(sampleRecords().RawHeadline).catch((e: unknown) => e);
    expect(enc).toBeInstanceOf(RegistryUnavailableError);
  });

  it('refuses a topic that carries another record', () => {
    expect(() => serdeFor('RawHeadline', 'classified', offline)).toThrow(/carries ClassifiedHeadline/);
  });
});

describe('Serde.encode: one walk, same bytes, same errors', () => {
  // a registry that knows one id: encode needs nothing else
  const registry = { lookupId: async () => 7 } as unknown as RegistryRestClient;
  const serde = serdeFor('RawHeadline', 'raw-headlines', { registry });
  const good = sampleRecords().RawHeadline;

  it('writes the frame of toBuffer (the bytes of the two-walk encoder)', async () => {
    const out = await serde.encode(good);
    expect(out).toEqual(writeFrame(7, serde.type.toBuffer(good)));
  });

  it('frames written in place stay intact as later ones fill and outgrow the shared slab', async () => {
    const values = Array.from({ length: 400 }, (_, i) => ({
      ...good,
      item_id: `item-${i}`,
      headline: { ...good.headline, summary: 'é'.repeat(i % 7 === 0 ? 40_000 + i : i * 3) },
    }));
    const frames = [];
    for (const v of values) frames.push(await serde.encode(v));
    for (const [i, f] of frames.entries()) expect(f.equals(writeFrame(7, serde.type.toBuffer(values[i])))).toBe(true);
    // one over the slab's size gets a slab of its own
    const big = { ...good, headline: { ...good.headline, summary: 'x'.repeat(300_000) } };
    expect((await serde.encode(big)).equals(writeFrame(7, serde.type.toBuffer(big)))).toBe(true);
  });

  it.each([
    ['a wrong type', { ...good, headline: { ...good.headline, title: 42 } }, ['headline.title']],
    ['a missing field', { ...good, item_id: undefined }, ['item_id']],
    ['two bad fields', { ...good, job_id: 3, headline: { ...good.headline, url: null } }, ['job_id', 'headline.url']],
    ['not a record', 'text', ['(root)']],
  ])('rejects %s with RecordEncodeError naming every offending field', async (_what, bad, paths) => {
    const err = await serde.encode(bad as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RecordEncodeError);
    expect(err).toMatchObject({ code: 'FEEDLOG_RECORD_ENCODE', retriable: false, topic: 'raw-headlines', paths });
    expect((err as Error).message).toMatch(/RawHeadline for raw-headlines does not match its schema at/);
  });

  it('accepts exactly what isValid accepts on every sample record', async () => {
    for (const [record, value] of Object.entries(sampleRecords())) {
      const topic = {
        RawHeadline: 'raw-headlines',
        ClassifiedHeadline: 'classified',
        ClusteredHeadline: 'clustered',
        EmbeddedHeadline: 'embedded',
        IndexedHeadline: 'indexed',
        DeadLetter: 'classify.dlq',
      }[record];
      if (!topic) continue;
      const s = serdeFor(record as never, topic, { registry });
      expect(s.type.isValid(value)).toBe(true);
      expect(await s.encode(value as never)).toEqual(writeFrame(7, s.type.toBuffer(value)));
    }
  });
});

describe('Serde.decodeNow / encodeNow: no promise once the registry has answered', () => {
  const good = sampleRecords().RawHeadline;
  const fresh = () => {
    const calls = { lookupId: 0, schemaById: 0 };
    const registry = {
      lookupId: async () => {
        calls.lookupId++;
        return 7;
      },
      schemaById: async () => {
        calls.schemaById++;
        return { schema: JSON.stringify(serde.type.schema()) };
      },
    } as unknown as RegistryRestClient;
    const serde = serdeFor('RawHeadline', 'raw-headlines', { registry });
    return { serde, calls };
  };

  it('encodeNow: undefined until the schema id is known, then the bytes of encode', async () => {
    const { serde, calls } = fresh();
    expect(serde.encodeNow(good)).toBeUndefined();
    const viaEncode = await serde.encode(good);
    const now = serde.encodeNow(good);
    expect(now?.equals(viaEncode)).toBe(true);
    expect(calls.lookupId).toBe(1);
    // an invalid record: the same RecordEncodeError, thrown, naming the field
    expect(() => serde.encodeNow({ ...good, job_id: 3 } as never)).toThrow(RecordEncodeError);
    try {
      serde.encodeNow({ ...good, job_id: 3 } as never);
    } catch (e) {
      expect(e).toMatchObject({ code: 'FEEDLOG_RECORD_ENCODE', paths: ['job_id'] });
    }
  });

  it('decodeNow: undefined for a schema id not fetched yet, then the value of decode; bad frames throw', async () => {
    const { serde, calls } = fresh();
    const frame = writeFrame(7, serde.type.toBuffer(good));
    expect(serde.decodeNow(frame)).toBeUndefined();
    expect(calls.schemaById).toBe(0);
    const viaDecode = await serde.decode(frame);
    expect(serde.decodeNow(frame)).toEqual(viaDecode);
    expect(viaDecode).toEqual(good);
    expect(calls.schemaById).toBe(1);
    // concurrent decodes of an id not fetched yet share one registry request
    const other = fresh();
    const many = await Promise.all(Array.from({ length: 50 }, () => other.serde.decode(frame)));
    expect(many).toHaveLength(50);
    expect(other.calls.schemaById).toBe(1);
    // another id is still unknown: only decode may ask the registry
    expect(serde.decodeNow(writeFrame(8, serde.type.toBuffer(good)))).toBeUndefined();
    // the typed errors of decode, thrown: a bad frame, a payload that is not the record
    expect(() => serde.decodeNow(Buffer.from([1, 0, 0, 0, 7, 2]))).toThrow(WrongMagicByteError);
    expect(() => serde.decodeNow(Buffer.from([0, 0, 1]))).toThrow(TruncatedMessageError);
    expect(() => serde.decodeNow(writeFrame(7, Buffer.from([0xff, 0xff, 0xff])))).toThrow(PayloadDecodeError);
  });
});

describe('Serde.encodeNowExtending: a record that begins with another record copies its bytes', () => {
  const registry = {
    lookupId: async () => 7,
    schemaById: async () => ({ schema: JSON.stringify(raw.type.schema()) }),
  } as unknown as RegistryRestClient;
  const raw = serdeFor('RawHeadline', 'raw-headlines', { registry });
  const classified = serdeFor('ClassifiedHeadline', 'classified', { registry });
  const rec = sampleRecords().ClassifiedHeadline;

  it('gives the bytes of encode, and undefined before the id is known or for a head it does not begin with', async () => {
    const head = { item_id: rec.item_id, job_id: rec.job_id, headline: rec.headline };
    const frame = await raw.encode(head);
    expect(raw.localPayload(frame)).toBeUndefined(); // writer schema not fetched yet
    await raw.decode(frame);
    const payload = raw.localPayload(frame) as Buffer;
    expect(payload.equals(raw.type.toBuffer(head))).toBe(true);
    expect(classified.encodeNowExtending(raw, payload, rec)).toBeUndefined(); // id not known yet
    const full = await classified.encode(rec);
    expect(classified.encodeNowExtending(raw, payload, rec)?.equals(full)).toBe(true);
    // DeadLetter does not begin with RawHeadline's fields
    expect(
      classified.encodeNowExtending(serdeFor('DeadLetter', 'classify.dlq', { registry }), payload, rec),
    ).toBeUndefined();
  });

  it('throws the RecordEncodeError of encode for an invalid tail', async () => {
    await classified.schemaId();
    const payload = raw.type.toBuffer({ item_id: rec.item_id, job_id: rec.job_id, headline: rec.headline });
    const bad = { ...rec, classification: { ...rec.classification, category: 3 } } as never;
    expect(() => classified.encodeNowExtending(raw, payload, bad)).toThrow(RecordEncodeError);
    expect(() => classified.encodeNowExtending(raw, payload, bad)).toThrow(/classification.category/);
  });
});

describe('Serde.projection and decodePayload: a local payload read in part, or whole', () => {
  const registry = {} as unknown as RegistryRestClient;
  const raw = serdeFor('RawHeadline', 'raw-headlines', { registry });
  const rec = sampleRecords().RawHeadline;
  const payload = raw.type.toBuffer(rec);

  it('reads only the named fields, the others skipped', () => {
    const read = raw.projection<Record<string, unknown>>({ job_id: true, headline: ['title', 'published_at'] });
    expect(JSON.parse(JSON.stringify(read(payload)))).toEqual({
      job_id: rec.job_id,
      headline: { title: rec.headline.title, published_at: rec.headline.published_at },
    });
    expect(raw.decodePayload(payload)).toEqual(rec);
  });

  it('refuses names that are not fields, and throws the PayloadDecodeError of decode for bad bytes', () => {
    expect(() => raw.projection({ nope: true })).toThrow(RangeError);
    expect(() => raw.projection({ headline: ['nope'] })).toThrow(RangeError);
    expect(() => raw.projection({ item_id: ['x'] })).toThrow(/not a record/);
    const read = raw.projection({ headline: ['title'] });
    expect(() => read(payload.subarray(0, payload.length - 2))).toThrow(PayloadDecodeError);
    expect(() => raw.decodePayload(Buffer.concat([payload, Buffer.from([0])]))).toThrow(PayloadDecodeError);
  });
});
