import { WrongMagicByteError } from '@feedlog/schemas';
import { describe, expect, it } from 'vitest';
import {
  Breaker,
  BreakerOpenError,
  backoffSchedule,
  confluentJsonCodec,
  DecodeError,
  defineStage,
  formatTraceparent,
  jsonCodec,
  PoisonRecordError,
  parseTraceparent,
  RetriableError,
  runInMemory,
  staticSchemaIds,
  stringCodec,
  writeFrame,
} from '../src/index.ts';

const topics = { input: { topic: 'in' }, output: { topic: 'out' }, dlq: { topic: 'in.dlq' } };
const base = { name: 'upper', generation: 3, model: { name: 'm', version: '1' } };

function upper(map: (v: string, attempt: number) => string | null) {
  return defineStage({
    ...base,
    input: { ...topics.input, codec: stringCodec() },
    output: { ...topics.output, codec: stringCodec() },
    dlq: topics.dlq,
    config: {
      batch: { maxRecords: 8, lingerMs: 0 },
      retry: { maxAttempts: 4, initialDelayMs: 10, maxDelayMs: 40 },
      lineageHeaders: true,
    },
    map: (r, ctx) => map(r.value, ctx.attempt),
  });
}

describe('defineStage', () => {
  it('names the group after stage and generation and validates the definition', () => {
    expect(upper((v) => v).groupId).toBe('feedlog.upper.g3');
    expect(upper((v) => v).output?.subject).toBe('out-value');
    const bad = {
      ...base,
      input: { topic: 'x', codec: stringCodec() },
      dlq: { topic: 'd' },
      map: (r: { value: string }) => r.value,
    };
    expect(() => defineStage({ ...bad, output: { topic: 'x', codec: stringCodec() } })).toThrow(/same topic/);
    expect(() => defineStage({ ...bad, output: { topic: 'y', codec: stringCodec() }, dlq: { topic: 'y' } })).toThrow(
      /DLQ/,
    );
    expect(() => defineStage({ ...bad, name: 'no spaces', output: { topic: 'y', codec: stringCodec() } })).toThrow(
      /name/,
    );
  });
});

describe('batch size and map concurrency (issue 14)', () => {
  const def = (config: object, map: (v: string) => Promise<string> | string) =>
    defineStage({
      ...base,
      input: { ...topics.input, codec: stringCodec() },
      output: { ...topics.output, codec: stringCodec() },
      dlq: topics.dlq,
      config,
      map: (r) => map(r.value),
    });

  it('cuts batches by bytes by default (1 MiB, capped at 10,000 records) and validates the bounds', async () => {
    const s = def({}, (v) => v);
    expect(s.config.batch).toEqual({ maxRecords: 10_000, maxBytes: 1 << 20, lingerMs: 50 });
    expect(s.config.buffer.maxRecords).toBe(20_000);
    // 100 records of ~1,067 B as accounted (key + value + 64): 10 fit in 10,700 B
    const value = 'x'.repeat(1_000);
    const rs = Array.from({ length: 100 }, (_, i) => ({ key: `k${i}`, value }));
    const small = def({ batch: { maxBytes: 10_700 } }, (v) => v);
    const r = await runInMemory(small, rs);
    expect(r.batches).toBe(10);
    expect(r.outputs).toHaveLength(100);
    // the record cap still applies, and one record larger than maxBytes is a batch of its own
    expect(
      (
        await runInMemory(
          def({ batch: { maxRecords: 7 } }, (v) => v),
          rs,
        )
      ).batches,
    ).toBe(15);
    expect(
      (
        await runInMemory(
          def({ batch: { maxBytes: 10 } }, (v) => v),
          rs.slice(0, 3),
        )
      ).batches,
    ).toBe(3);
    expect(() => def({ batch: { maxBytes: 0 } }, (v) => v)).toThrow(/batch.maxBytes/);
    expect(() => def({ mapConcurrency: 0 }, (v) => v)).toThrow(/mapConcurrency/);
  });

  it('runs an async map over a large batch with at most mapConcurrency calls at once, results in order', async () => {
    let inFlight = 0;
    let peak = 0;
    const s = def({ mapConcurrency: 16 }, async (v) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 1));
      inFlight--;
      if (v === 'bad') throw new PoisonRecordError('bad');
      return v.toUpperCase();
    });
    const rs = Array.from({ length: 300 }, (_, i) => ({ key: `k${i}`, value: i === 150 ? 'bad' : `v${i}` }));
    const r = await runInMemory(s, rs);
    expect(peak).toBe(16);
    expect(r.dead).toHaveLength(1);
    expect(r.outputs.map((o) => o.value)).toEqual(
      rs.filter((x) => x.value !== 'bad').map((x) => x.value.toUpperCase()),
    );
  });
});

describe('the in-memory driver (the runtime batch path without a broker)', () => {
  it('keeps the input key and continues the producer trace in a traceparent header', async () => {
    const parent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const r = await runInMemory(
      upper((v) => v.toUpperCase()),
      [
        { key: 'a', value: 'x', headers: { traceparent: parent } },
        { key: 'b', value: 'y' },
      ],
    );
    expect(r.outputs.map((o) => [o.key, o.value])).toEqual([
      ['a', 'X'],
      ['b', 'Y'],
    ]);
    const child = parseTraceparent(r.outputs[0]?.headers.traceparent);
    expect(child?.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(child?.spanId).not.toBe('b7ad6b7169203331');
    expect(r.outputs[0]?.headers['feedlog-model']).toBe('m@1');
    expect(r.outputs[0]?.headers['feedlog-generation']).toBe('3');
    const root = parseTraceparent(r.outputs[1]?.headers.traceparent);
    expect(root?.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(root?.traceId).not.toBe(child?.traceId);
  });

  it('dead-letters only the record the transform rejects, with its bytes, reason and source', async () => {
    const inputs = ['a', 'b', 'poison', 'c'].map((value, i) => ({ key: `k${i}`, value, headers: { h: 'v' } }));
    const r = await runInMemory(
      upper((v) => {
        if (v === 'poison') throw new PoisonRecordError('no poison here');
        return v.toUpperCase();
      }),
      inputs,
    );
    expect(r.outputs.map((o) => o.value)).toEqual(['A', 'B', 'C']);
    expect(r.dead).toHaveLength(1);
    const d = r.dead[0];
    expect(d?.error_class).toBe('PoisonRecordError');
    expect(d?.error_message).toBe('no poison here');
    expect(d?.original_value?.toString()).toBe('poison');
    expect(d?.original_key?.toString()).toBe('k2');
    expect(d?.headers).toEqual([{ key: 'h', value: Buffer.from('v') }]);
    expect([d?.source_topic, d?.source_partition, d?.source_offset]).toEqual(['in', 0, 2]);
    expect([d?.stage, d?.consumer_group, d?.generation, d?.attempts, d?.retriable]).toEqual([
      'upper',
      'feedlog.upper.g3',
      3,
      1,
      false,
    ]);
    expect(r.retryDelays).toEqual([]);
  });

  it('retries a retriable failure with capped, jittered backoff, then succeeds', async () => {
    const r = await runInMemory(
      upper((v, attempt) => {
        if (v === 'flaky' && attempt < 3) throw new RetriableError('503');
        return v.toUpperCase();
      }),
      [{ value: 'ok' }, { value: 'flaky' }],
    );
    expect(r.outputs.map((o) => o.value).sort()).toEqual(['FLAKY', 'OK']);
    expect(r.dead).toEqual([]);
    expect(r.retryDelays).toHaveLength(2);
    for (const d of r.retryDelays) expect(d).toBeLessThanOrEqual(40);
  });

  it('dead-letters a record whose retriable failures outlast the attempts, marked retriable', async () => {
    const r = await runInMemory(
      upper((v) => {
        if (v === 'down') throw new RetriableError('still down');
        return v;
      }),
      [{ value: 'down' }, { value: 'up' }],
    );
    expect(r.outputs.map((o) => o.value)).toEqual(['up']);
    expect(r.dead.map((d) => [d.error_class, d.attempts, d.retriable])).toEqual([['RetriableError', 4, true]]);
    expect(r.retryDelays).toHaveLength(3);
  });

  it('isolates the record that makes a whole-batch transform throw, by bisection', async () => {
    let calls = 0;
    const stage = defineStage({
      ...base,
      input: { topic: 'in', codec: stringCodec() },
      output: { topic: 'out', codec: stringCodec() },
      dlq: { topic: 'dlq' },
      config: { batch: { maxRecords: 64, lingerMs: 0 } },
      transform(batch) {
        calls++;
        if (batch.some((r) => r.value === 'boom')) throw new TypeError('cannot read properties of undefined');
        return batch.map((r) => ({ value: r.value.toUpperCase() }));
      },
    });
    const values = Array.from({ length: 64 }, (_, i) => (i === 37 ? 'boom' : `v${i}`));
    const r = await runInMemory(
      stage,
      values.map((value) => ({ value })),
    );
    expect(r.outputs).toHaveLength(63);
    expect(r.dead.map((d) => [d.error_class, d.original_value?.toString(), d.source_offset])).toEqual([
      ['TypeError', 'boom', 37],
    ]);
    expect(calls).toBeLessThanOrEqual(1 + 2 * Math.log2(64));
  });

  it('dead-letters undecodable bytes (bad magic byte, unknown schema id, bad payload) and decodes the rest', async () => {
    const ids = staticSchemaIds({ 'in-value': 7, 'out-value': 8 });
    const codec = confluentJsonCodec<{ title: string }>(ids);
    const stage = defineStage({
      ...base,
      input: { topic: 'in', codec },
      output: { topic: 'out', codec: confluentJsonCodec<{ title: string; n: number }>(ids) },
      dlq: { topic: 'dlq' },
      map: (r) => ({ title: r.value.title, n: r.value.title.length }),
    });
    const r = await runInMemory(stage, [
      { key: 'good', value: { title: 'hello' } },
      { key: 'magic', value: Buffer.from([1, 0, 0, 0, 7, 123, 125]) },
      { key: 'unknown', value: writeFrame(99, Buffer.from('{"title":"x"}')) },
      { key: 'garbage', value: writeFrame(7, Buffer.from('{not json')) },
      { key: 'good2', value: { title: 'world!' } },
    ]);
    expect(r.outputs.map((o) => [o.key, o.value])).toEqual([
      ['good', { title: 'hello', n: 5 }],
      ['good2', { title: 'world!', n: 6 }],
    ]);
    expect(r.dead.map((d) => [d.original_key?.toString(), d.error_class])).toEqual([
      ['magic', 'WrongMagicByteError'],
      ['unknown', 'UnknownSchemaIdError'],
      ['garbage', 'DecodeError'],
    ]);
    expect(r.dead[1]?.error_message).toMatch(/99/);
    expect(r.dead[0]?.original_value).toEqual(Buffer.from([1, 0, 0, 0, 7, 123, 125]));
  });

  it('fails the batch, not the records, when decoding keeps failing for a retriable reason', async () => {
    const down = { name: 'RegistryUnavailableError', retriable: true };
    const stage = defineStage({
      ...base,
      input: {
        topic: 'in',
        codec: {
          decode: async () => {
            throw Object.assign(new Error('registry unreachable'), down);
          },
          encode: async (v: string) => Buffer.from(v),
        },
      },
      output: { topic: 'out', codec: stringCodec() },
      dlq: { topic: 'dlq' },
      config: { retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 2 } },
      map: (r) => r.value,
    });
    await expect(runInMemory(stage, [{ value: 'a' }])).rejects.toThrow(/decode kept failing/);
  });

  it("takes a codec's synchronous path (decodeNow/encodeNow) and its promise only when that declines, same errors", async () => {
    const calls = { decode: 0, encode: 0, decodeNow: 0, encodeNow: 0 };
    // 'late…' values decline the fast path (a schema id not fetched yet); 'bad' does not decode; 'boom' does not encode
    const codec = {
      decode: async (b: Buffer) => {
        calls.decode++;
        return b.toString();
      },
      decodeNow: (b: Buffer) => {
        calls.decodeNow++;
        const v = b.toString();
        if (v === 'bad') throw new DecodeError('not a record');
        return v.startsWith('late') ? undefined : v;
      },
      encode: async (v: string) => {
        calls.encode++;
        return Buffer.from(v);
      },
      encodeNow: (v: string) => {
        calls.encodeNow++;
        if (v === 'BOOM') throw new Error('field x does not fit');
        return v.startsWith('LATE') ? undefined : Buffer.from(v);
      },
    };
    const stage = defineStage({
      ...base,
      input: { topic: 'in', codec },
      output: { topic: 'out', codec },
      dlq: { topic: 'dlq' },
      map: (r) => r.value.toUpperCase(),
    });
    const r = await runInMemory(
      stage,
      ['a', 'late1', 'bad', 'b', 'boom', 'late2'].map((v) => ({ key: v, value: v })),
    );
    expect(r.outputs.map((o) => o.value)).toEqual(['A', 'LATE1', 'B', 'LATE2']);
    expect(r.dead.map((d) => [d.original_key?.toString(), d.error_class])).toEqual([
      ['bad', 'DecodeError'],
      ['boom', 'EncodeError'],
    ]);
    // the driver encodes the 6 inputs and decodes the 4 outputs through `encode`/`decode` itself
    expect(calls).toEqual({ decodeNow: 6, decode: 2 + 4, encodeNow: 5, encode: 6 + 2 });
  });

  it('supports fan-out, filtering and explicit keys from a batch transform', async () => {
    const stage = defineStage({
      ...base,
      input: { topic: 'in', codec: jsonCodec<{ words: string[] }>() },
      output: { topic: 'out', codec: stringCodec() },
      dlq: { topic: 'dlq' },
      transform: (batch) =>
        batch.map((r) => (r.value.words.length === 0 ? null : r.value.words.map((w) => ({ key: w, value: w })))),
    });
    const r = await runInMemory(stage, [
      { value: { words: ['a', 'b'] } },
      { value: { words: [] } },
      { value: { words: ['c'] } },
    ]);
    expect(r.outputs.map((o) => [o.key, o.value])).toEqual([
      ['a', 'a'],
      ['b', 'b'],
      ['c', 'c'],
    ]);
  });
});

describe('stage context', () => {
  it('gives the transform the StageRun block outputs carry', async () => {
    const stage = defineStage({
      ...base,
      input: { topic: 'in', codec: stringCodec() },
      output: { topic: 'out', codec: jsonCodec<{ v: string; run: unknown }>() },
      dlq: { topic: 'dlq' },
      map: (r, ctx) => ({ v: r.value, run: ctx.run() }),
    });
    const before = Date.now();
    const r = await runInMemory(stage, [{ value: 'x' }]);
    const run = r.outputs[0]?.value.run as { model_name: string; generation: number; produced_at: number };
    expect([run.model_name, run.generation]).toEqual(['m', 3]);
    expect(run.produced_at).toBeGreaterThanOrEqual(before);
  });
});

describe('extra messages, timestamps and partition hooks', () => {
  it('sends ctx.send messages with the batch, dropping those of a transform call that threw', async () => {
    const calls: string[] = [];
    const stage = defineStage({
      ...base,
      input: { topic: 'in', codec: stringCodec() },
      output: { topic: 'out', codec: stringCodec() },
      dlq: { topic: 'dlq' },
      config: { batch: { maxRecords: 8, lingerMs: 0 } },
      onAssigned: (p) => {
        calls.push(`assigned ${p.partition} at ${p.committedOffset}`);
      },
      onRevoked: (p) => {
        calls.push(`revoked ${p.partition}`);
      },
      transform(batch, ctx) {
        calls.push(`transform ${batch.length}`);
        for (const r of batch) ctx.send('changelog', { key: r.value, value: Buffer.from(r.offset) });
        if (batch.some((r) => r.value === 'bad')) throw new TypeError('boom');
        return batch.map((r) => ({ value: r.value, timestamp: 1_700_000_000_000 }));
      },
    });
    const r = await runInMemory(stage, [{ value: 'a' }, { value: 'bad' }, { value: 'c' }, { value: 'd' }]);
    expect(r.outputs.map((o) => o.value)).toEqual(['a', 'c', 'd']);
    expect(r.dead.map((d) => d.original_value?.toString())).toEqual(['bad']);
    // only the calls that returned contributed their messages: one per surviving record
    expect(r.extra.map((x) => [x.topic, x.key]).sort()).toEqual([
      ['changelog', 'a'],
      ['changelog', 'c'],
      ['changelog', 'd'],
    ]);
    expect(calls[0]).toBe('assigned 0 at -1');
    expect(calls.at(-1)).toBe('revoked 0');
  });

  it('carries an explicit output timestamp', async () => {
    const { processBatch } = await import('../src/process-batch.ts');
    const stage = upper((v) => v);
    const withTs = defineStage({
      ...stage,
      ...base,
      input: stage.input,
      output: stage.output,
      dlq: { topic: 'd' },
      transform: async (b) => b.map((r) => ({ value: r.value, timestamp: 42 })),
    });
    const res = await processBatch(
      withTs,
      [{ topic: 'in', partition: 0, offset: '0', timestamp: '1', key: null, value: Buffer.from('x'), headers: {} }],
      {
        breaker: () => new Breaker('x'),
        signal: new AbortController().signal,
      },
    );
    expect(res.outputs[0]?.timestamp).toBe('42');
  });
});

describe('circuit breaker', () => {
  it('opens after consecutive failures, rejects fast while open, half-opens and closes on success', async () => {
    const states: string[] = [];
    const b = new Breaker('embedder', { failureThreshold: 3, halfOpenAfterMs: 100 }, (s) => states.push(s));
    let calls = 0;
    const failing = async () => {
      calls++;
      throw new Error('ECONNREFUSED');
    };
    for (let i = 0; i < 3; i++) await expect(b.run(failing)).rejects.toThrow('ECONNREFUSED');
    expect(b.state).toBe('open');
    await expect(b.run(failing)).rejects.toBeInstanceOf(BreakerOpenError);
    expect(calls).toBe(3);
    expect(b.retryAfterMs()).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 120));
    expect(await b.run(async () => 'ok')).toBe('ok');
    expect(b.state).toBe('closed');
    expect(states).toEqual(['open', 'half-open', 'closed']);
  });

  it('does not count poison records as dependency failures', async () => {
    const b = new Breaker('x', { failureThreshold: 2, halfOpenAfterMs: 1_000 });
    for (let i = 0; i < 5; i++)
      await expect(b.run(() => Promise.reject(new PoisonRecordError('bad')))).rejects.toThrow();
    expect(b.state).toBe('closed');
  });

  it('makes the runtime wait for the breaker instead of dead-lettering', async () => {
    let up = false;
    setTimeout(() => {
      up = true;
    }, 150);
    const stage = defineStage({
      ...base,
      input: { topic: 'in', codec: stringCodec() },
      output: { topic: 'out', codec: stringCodec() },
      dlq: { topic: 'dlq' },
      config: {
        breaker: { failureThreshold: 1, halfOpenAfterMs: 60 },
        retry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 1 },
      },
      map: (r, ctx) =>
        ctx.breaker('dep').run(async () => {
          if (!up) throw new RetriableError('dependency down');
          return r.value.toUpperCase();
        }),
    });
    const r = await runInMemory(stage, [{ value: 'a' }, { value: 'b' }]);
    expect(r.outputs.map((o) => o.value)).toEqual(['A', 'B']);
    expect(r.dead).toEqual([]);
  });
});

describe('backoff and trace context', () => {
  it('jitters below an exponentially growing bound, capped', () => {
    const next = backoffSchedule({ maxAttempts: 10, initialDelayMs: 100, maxDelayMs: 1_000 });
    const delays = Array.from({ length: 12 }, () => next());
    delays.forEach((d, n) => {
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(Math.min(1_000, 100 * 2 ** (n + 1)));
    });
    expect(new Set(delays.map((d) => Math.round(d))).size).toBeGreaterThan(3);
  });

  it('parses and formats W3C traceparent, rejecting invalid ones', () => {
    const h = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    expect(formatTraceparent(parseTraceparent(h) as never)).toBe(h);
    expect(parseTraceparent('00-00000000000000000000000000000000-b7ad6b7169203331-01')).toBeUndefined();
    expect(parseTraceparent('ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01')).toBeUndefined();
    expect(parseTraceparent('garbage')).toBeUndefined();
    expect(new WrongMagicByteError(1, 'in').retriable).toBe(false);
  });
});

describe('several inputs and store stages', () => {
  const store = { committedOffset: async () => -1, commit: async () => {} };
  it('decodes each input topic with its own codec and hands a store stage its values', async () => {
    const { processBatch } = await import('../src/process-batch.ts');
    // a codec of its own (a spread stringCodec would keep its decodeNow, which the runtime tries first)
    const twice = { encode: stringCodec().encode, decode: async (b: Buffer) => `${b}${b}` };
    const stage = defineStage<string, string>({
      ...base,
      input: {
        topics: [
          { topic: 'a', codec: stringCodec() },
          { topic: 'b', codec: twice },
        ],
      },
      store,
      dlq: { topic: 'd' },
      map: (r) => `${r.topic}:${r.value}`,
    });
    expect(stage.input.topics).toEqual(['a', 'b']);
    const rec = (topic: string) => ({
      topic,
      partition: 0,
      offset: '0',
      timestamp: '1',
      key: null,
      value: Buffer.from('x'),
      headers: {},
    });
    const res = await processBatch(stage, [rec('a'), rec('b')], {
      breaker: () => new Breaker('x'),
      signal: new AbortController().signal,
    });
    expect(res.values).toEqual(['a:x', 'b:xx']);
    expect(res.outputs).toEqual([]);
  });

  it('takes exactly one of output and store', () => {
    const def = {
      ...base,
      input: { topic: 'a', codec: stringCodec() },
      dlq: { topic: 'd' },
      map: (r: { value: string }) => r.value,
    };
    expect(() => defineStage(def)).toThrow(/exactly one of output or store/);
    expect(() => defineStage({ ...def, store, output: { topic: 'o', codec: stringCodec() } })).toThrow(
      /exactly one of output or store/,
    );
  });
});
