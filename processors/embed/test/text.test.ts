import { describe, expect, it } from 'vitest';
import { describeSettings, embeddingSettingsFromEnv } from '../src/config.ts';
import { embeddingText } from '../src/text.ts';

describe('embeddingText', () => {
  it('title, then the summary on its own line; whitespace collapsed; NFC', () => {
    expect(embeddingText({ title: '  Fed  holds\trates ', summary: null })).toBe('Fed holds rates');
    expect(embeddingText({ title: 'Fed holds rates', summary: ' Policy makers\n\nwait. ' })).toBe(
      'Fed holds rates\nPolicy makers wait.',
    );
    expect(embeddingText({ title: 'Cafe\u0301 opens', summary: '' })).toBe('Café opens');
    expect(embeddingText({ title: '   ', summary: 'only a summary' })).toBe('only a summary');
    expect(embeddingText({ title: ' \n ', summary: null })).toBe('');
  });

  it('cuts long texts at maxChars code points, the same way every time, never inside a surrogate pair', () => {
    const long = { title: 'word '.repeat(50), summary: '😀'.repeat(100) };
    const a = embeddingText(long, 300);
    expect(a).toBe(embeddingText({ ...long }, 300));
    expect(Array.from(a)).toHaveLength(300);
    expect(a.endsWith('😀')).toBe(true);
    expect(embeddingText({ title: 'abc def', summary: null }, 16)).toBe('abc def');
    expect(embeddingText({ title: 'abcdefgh ijklmnop qrst', summary: null }, 16)).toBe('abcdefgh ijklmno');
  });
});

describe('embeddingSettingsFromEnv', () => {
  it('reads the endpoint, model and knobs; the key is never shown', () => {
    const s = embeddingSettingsFromEnv({
      EMBEDDING_BASE_URL: 'https://api.example.com/v1',
      EMBEDDING_MODEL: 'text-embedding-3-small',
      EMBEDDING_API_KEY: 'sk-secret',
      EMBEDDING_DIMENSIONS: '256',
      EMBED_BATCH_SIZE: '128',
      EMBED_CONCURRENCY: '8',
    });
    expect(s).toMatchObject({
      baseUrl: 'https://api.example.com/v1',
      model: 'text-embedding-3-small',
      apiKey: 'sk-secret',
      dimensions: 256,
      batchSize: 128,
      concurrency: 8,
    });
    expect(JSON.stringify(describeSettings(s))).not.toContain('sk-secret');
    expect(describeSettings(s).apiKey).toBe('(set)');
  });

  it('defaults to the local embedder and its default model; names every bad variable', () => {
    const s = embeddingSettingsFromEnv({ EMBEDDER_PORT: '9999' });
    expect(s.baseUrl).toBe('http://127.0.0.1:9999/v1');
    expect(s.model).toBe('all-MiniLM-L6-v2-int8');
    expect(s.dimensions).toBeUndefined();
    expect(() => embeddingSettingsFromEnv({ EMBED_BATCH_SIZE: '0', EMBED_CONCURRENCY: 'many' })).toThrow(
      /EMBED_BATCH_SIZE[\s\S]*EMBED_CONCURRENCY/,
    );
  });
});
