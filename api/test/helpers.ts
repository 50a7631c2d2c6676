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
