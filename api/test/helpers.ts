import type { VectorIndex } from '@feedlog/index';
import { loadSchemas, type RawHeadline } from '@feedlog/schemas';
import type { FastifyInstance } from 'fastify';
import { type AppOptions, buildApp } from '../src/app.ts';
import { MemoryApiKeyStore } from '../src/auth.ts';
import { MemorySink, type RawEncoder } from '../src/plugins/kafka.ts';

export const WRITE_KEY = 'fl_test_write_key';
export const READ_KEY = 'fl_test_read_key';

/** RawHeadline as Confluent-framed Avro with a fixed schema id (no registry: unit tests only). */
export function localEncoder(): RawEncoder & { decode(b: Buffer): RawHeadline } {
  const type = loadSchemas().types.RawHeadline;
  return {
    async encode(r) {
      return Buffer.concat([Buffer.from([0, 0, 0, 0, 1]), type.toBuffer(r)]);
    },
    async check() {},
    decode(b) {
      return type.fromBuffer(b.subarray(5)) as RawHeadline;
    },
  };
}

export async function testApp(
  over: Partial<AppOptions> = {},
): Promise<{ app: FastifyInstance; sink: MemorySink; encoder: ReturnType<typeof localEncoder> }> {
  const sink = new MemorySink();
  const encoder = localEncoder();
  const apiKeys = new MemoryApiKeyStore()
    .add(WRITE_KEY, { name: 'writer', scopes: ['write'], rateLimitPerMinute: 10_000 })
    .add(READ_KEY, { name: 'reader', scopes: ['read'], rateLimitPerMinute: 10_000 });
  const app = await buildApp({ sink, encoder, apiKeys, ...over });
  return { app, sink, encoder };
}

export function item(i: number, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    source: 'reuters',
    url: `https://example.com/news/${i}?utm_source=x`,
    title: `Headline number ${i}`,
    guid: null,
    summary: 'A summary\nwith two lines',
    published_at: '2024-05-01T12:00:00Z',
    ...over,
  };
}

/**
 * One serving generation (1, 4 dimensions, cosine) holding item `i1` at [1, 0, 0, 0], aliased as
 * `headlines`: what a search over a seeded database finds.
 */
export async function seedServingIndex(
  index: VectorIndex,
  doc: { title: string; url: string; publishedAt: string },
): Promise<void> {
  await index.ensureGeneration(1, 4, 'cosine');
  await index.upsert(1, [
    {
      itemId: 'i1',
      vector: Float32Array.from([1, 0, 0, 0]),
      payload: {
        title: doc.title,
        url: doc.url,
        source: 'reuters',
        category: 'b',
        story_id: 's1',
        published_at: Date.parse(doc.publishedAt),
      },
    },
  ]);
  await index.flipAlias('headlines', 1);
}
