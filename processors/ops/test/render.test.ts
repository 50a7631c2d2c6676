import { describe, expect, it } from 'vitest';
import { generationOf, recordJson, recordLine, shorten, summarize } from '../src/render.ts';

const run = (generation: number) => ({ model_name: 'm', model_version: '1', generation, produced_at: 0 });
const headline = {
  source: 's',
  guid: null,
  url: 'https://x.example/1',
  title: 'Fed holds rates',
  summary: null,
  published_at: null,
  ingested_at: 0,
};

describe('render', () => {
  it("takes the generation from the newest block's run, or a dead letter's own", () => {
    expect(generationOf({ headline })).toBeNull();
    expect(generationOf({ classification: { run: run(2) } })).toBe(2);
    expect(generationOf({ classification: { run: run(1) }, story: { run: run(1) }, embedding: { run: run(4) } })).toBe(
      4,
    );
    expect(generationOf({ error_class: 'X', generation: 7 })).toBe(7);
  });

  it('summarises by what the record carries, and says what it could not decode', () => {
    const v = {
      item_id: 'a',
      job_id: 'job-1',
      headline,
      classification: { category: 'b', confidence: 0.91, run: run(1) },
      embedding: { vector: Buffer.alloc(1536), dimensions: 384, normalized: true, run: run(3) },
    };
    expect(summarize({ ok: true, schemaId: 1, record: 'dev.feedlog.EmbeddedHeadline', value: v })).toBe(
      'EmbeddedHeadline "Fed holds rates" category=b(0.91) dims=384 job=job-1',
    );
    const dl = {
      error_class: 'PoisonRecordError',
      error_message: 'bad title',
      stage: 'classify',
      source_topic: 'raw-headlines',
      source_partition: 2,
      source_offset: 9,
    };
    expect(summarize({ ok: true, schemaId: 2, record: 'dev.feedlog.DeadLetter', value: dl })).toBe(
      'DLQ classify PoisonRecordError: bad title from raw-headlines/2@9',
    );
    expect(summarize({ ok: false, reason: 'magic byte 116', bytes: 40, hex: '74686973' })).toBe(
      'UNDECODABLE 40 B 0x74686973…: magic byte 116',
    );
  });

  it('shortens vectors and byte payloads for --json, keeping their length', () => {
    const out = shorten({
      embedding: { vector: Buffer.alloc(1536, 1) },
      small: Buffer.from([1, 2]),
      list: Array.from({ length: 20 }, (_, i) => i),
    }) as Record<string, unknown>;
    expect(out).toEqual({
      embedding: { vector: `0x${'01'.repeat(24)}… (1536 bytes)` },
      small: '0x0102',
      list: [0, 1, 2, 3, 4, 5, 6, 7, '… 20 items'],
    });
    const rec = {
      topic: 't',
      partition: 1,
      offset: '5',
      key: 'k',
      timestamp: Date.UTC(2026, 0, 1),
      decoded: { ok: true as const, schemaId: 3, record: 'dev.feedlog.RawHeadline', value: { headline } },
    };
    expect(recordJson(rec)).toMatchObject({
      topic: 't',
      partition: 1,
      offset: '5',
      key: 'k',
      time: '2026-01-01T00:00:00.000Z',
      schemaId: 3,
      record: 'RawHeadline',
      generation: null,
    });
    expect(recordLine(rec)).toBe('t[1]@5  k  2026-01-01T00:00:00.000Z  g-  RawHeadline "Fed holds rates"');
  });
});
