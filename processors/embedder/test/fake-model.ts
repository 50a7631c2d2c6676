import type { SentenceModel } from '../src/onnx-model.ts';
import type { TokenIds } from '../src/tokenizer.ts';

/**
 * A stand-in for the ONNX model in HTTP tests: one "token" per whitespace-separated word (id from a
 * hash), a deterministic unit vector per row, a counter of model calls, an optional delay and failure.
 */
export class FakeModel implements SentenceModel {
  calls: number[][] = [];
  delayMs = 0;
  fail: Error | undefined;
  private running = 0;
  maxRunning = 0;

  constructor(
    readonly spec = { name: 'fake-model', dimensions: 8, maxTokens: 16, upstream: 'test' },
    readonly parallelism = 1,
  ) {}

  readonly tokenizer = {
    vocabSize: 1000,
    wrap: (ids: readonly number[]): TokenIds => [101, ...ids.slice(0, this.spec.maxTokens - 2), 102],
    encode: (text: string): TokenIds =>
      this.tokenizer.wrap(
        text
          .split(/\s+/)
          .filter(Boolean)
          .map((w) => [...w].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 997, 7)),
      ),
  };

  /** The vector the fake gives a row: depends only on the row's ids. */
  vectorOf(row: readonly number[]): Float32Array {
    const v = new Float32Array(this.spec.dimensions);
    row.forEach((id, i) => {
      v[(id + i) % v.length]! += 1 + (id % 7);
    });
    const n = Math.hypot(...v);
    return v.map((x) => x / n);
  }

  async embed(rows: readonly TokenIds[]): Promise<Float32Array[]> {
    this.calls.push(rows.map((r) => r.length));
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    try {
      if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
      if (this.fail) throw this.fail;
      return rows.map((r) => this.vectorOf(r));
    } finally {
      this.running--;
    }
  }

  async close(): Promise<void> {}
}
