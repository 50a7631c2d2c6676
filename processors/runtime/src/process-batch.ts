import { performance } from 'node:perf_hooks';
import type { Breaker } from './breaker.ts';
import type { Emit, RecordResult, Stage, StageContext, StageRecord } from './define-stage.ts';
import {
  type DeadLetter,
  deadLetter,
  deadLetterJsonCodec,
  deadLetterMessage,
  type OutMessage,
  type RawRecord,
  type TopicMessage,
} from './dlq.ts';
import {
  BreakerOpenError,
  DecodeError,
  EncodeError,
  errorClass,
  errorMessage,
  isRetriable,
  RetriableError,
  StageError,
} from './errors.ts';
import { publish } from './instrumentation.ts';
import { backoffSchedule, sleep as defaultSleep } from './retry.ts';
import { formatTraceparent, parseTraceparent, propagatingTracer, TRACEPARENT } from './trace.ts';

export interface BatchDeps {
  breaker(name: string): Breaker;
  signal: AbortSignal;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export interface DeadEntry {
  record: RawRecord;
  letter: DeadLetter;
  message: OutMessage;
}

export interface BatchResult<O = unknown> {
  /** outputs for the output topic, in input order */
  outputs: OutMessage[];
  /** store stages (no output topic): the outputs as values, in input order */
  values: O[];
  dead: DeadEntry[];
  /** messages the transform added with ctx.send, for other topics of the same transaction */
  extra: { topic: string; message: TopicMessage }[];
  transformMs: number;
}

/** The stage is stopping while a batch waits for a retry: the batch is abandoned, not committed. */
export class ShutdownError extends StageError {
  constructor() {
    super('stage is shutting down', { retriable: true });
  }
}

type Slot<O> =
  | { kind: 'out'; messages: OutMessage[] }
  | { kind: 'values'; values: O[] }
  | { kind: 'dead'; entry: DeadEntry }
  | undefined;

/**
 * Decode → transform (with per-record retries, and bisection to isolate a record that makes the
 * whole batch throw) → encode. Pure apart from the transform itself: no Kafka. The Kafka runtime
 * commits the result in one transaction; the in-memory test driver just returns it.
 */
export async function processBatch<I, O>(
  stage: Stage<I, O>,
  raw: RawRecord[],
  deps: BatchDeps,
): Promise<BatchResult<O>> {
  const sleep = deps.sleep ?? defaultSleep;
  const dlqCodec = stage.dlq.codec ?? deadLetterJsonCodec;
  const slots: Slot<O>[] = new Array(raw.length);
  const decoded: (StageRecord<I> | undefined)[] = new Array(raw.length);

  const pause = async (records: number, attempt: number, err: unknown) => {
    const delayMs = next();
    publish('retry', { stage: stage.name, records, attempt, delayMs, errorClass: errorClass(err) });
    await sleep(delayMs, deps.signal);
    if (deps.signal.aborted) throw new ShutdownError();
  };

  const kill = async (i: number, error: unknown, attempts: number) => {
    const record = raw[i] as RawRecord;
    const letter = deadLetter(stage, record, error, attempts);
    slots[i] = {
      kind: 'dead',
      entry: { record, letter, message: await deadLetterMessage(letter, record, dlqCodec, stage.dlq.subject, error) },
    };
  };

  // decode; a retriable failure (registry unreachable) is retried for the batch, never dead-lettered
  const next = backoffSchedule(stage.config.retry);
  // kafkajs encodes headers slowly (three more headers cost about a third of passthrough throughput): opt-in
  const lineage: Record<string, string> = stage.config.lineageHeaders
    ? {
        'feedlog-stage': stage.name,
        'feedlog-model': `${stage.model.name}@${stage.model.version}`,
        'feedlog-generation': String(stage.generation),
      }
    : {};
  const max = stage.config.retry.maxAttempts;
  let toDecode = raw.map((_, i) => i);
  for (let attempt = 1; toDecode.length > 0; attempt++) {
    const again: number[] = [];
    let lastErr: unknown;
    let codecTopic: string | undefined;
    let codec = stage.input.codec;
    for (const i of toDecode) {
      const r = raw[i] as RawRecord;
      if (r.value === null) {
        await kill(i, new DecodeError('null value (tombstone) on a stage input'), 1);
        continue;
      }
      if (r.topic !== codecTopic) {
        codecTopic = r.topic;
        codec = stage.input.codecFor(r.topic);
      }
      try {
        // no promise per record once the codec knows the writer schema (decodeNow)
        const value = codec.decodeNow?.(r.value) ?? (await codec.decode(r.value));
        const h = r.headers[TRACEPARENT];
        decoded[i] = {
          topic: r.topic,
          partition: r.partition,
          offset: r.offset,
          timestamp: r.timestamp,
          key: r.key,
          value,
          headers: r.headers,
          trace: h === undefined ? undefined : parseTraceparent(h),
        };
      } catch (e) {
        if (isRetriable(e)) {
          again.push(i);
          lastErr = e;
        } else await kill(i, e instanceof Error ? e : new DecodeError(String(e)), attempt);
      }
    }
    if (again.length === 0) break;
    if (attempt >= max) throw new RetriableError(`decode kept failing: ${errorMessage(lastErr)}`, { cause: lastErr });
    await pause(again.length, attempt, lastErr);
    toDecode = again;
  }

  const tracer = stage.tracer ?? propagatingTracer;
  const first = raw[0];
  const span = tracer.startBatch({
    stage: stage.name,
    topic: first?.topic ?? stage.input.topic,
    partition: first?.partition ?? -1,
    links: decoded.flatMap((d) => (d?.trace ? [d.trace] : [])),
  });

  let transformMs = 0;
  const extra: BatchResult['extra'] = [];
  const ctxFor = (attempt: number, sent: BatchResult['extra']): StageContext => ({
    stage: stage.name,
    generation: stage.generation,
    model: stage.model,
    attempt,
    signal: deps.signal,
    breaker: deps.breaker,
    run: () => ({
      model_name: stage.model.name,
      model_version: stage.model.version,
      generation: stage.generation,
      produced_at: Date.now(),
    }),
    send(topic, m) {
      sent.push({
        topic,
        message: {
          key: typeof m.key === 'string' ? Buffer.from(m.key) : m.key,
          value: m.value,
          headers: m.headers ?? {},
          ...(m.timestamp === undefined ? {} : { timestamp: String(m.timestamp) }),
        },
      });
    },
  });

  // results for the given record indexes; a whole-group throw is split to find the culprit
  const runGroup = async (idxs: number[], attempt: number, isolate: boolean): Promise<Map<number, RecordResult<O>>> => {
    const out = new Map<number, RecordResult<O>>();
    const t0 = performance.now();
    const sent: BatchResult['extra'] = [];
    try {
      const res = await stage.transform(
        idxs.map((i) => decoded[i] as StageRecord<I>),
        ctxFor(attempt, sent),
      );
      transformMs += performance.now() - t0;
      if (!Array.isArray(res) || res.length !== idxs.length)
        throw new StageError(
          `transform returned ${Array.isArray(res) ? res.length : typeof res} results for ${idxs.length} records`,
        );
      for (const [j, i] of idxs.entries()) out.set(i, res[j] as RecordResult<O>);
      extra.push(...sent);
    } catch (e) {
      transformMs += performance.now() - t0;
      if (e instanceof BreakerOpenError) throw e;
      if (idxs.length > 1 && (isolate || !isRetriable(e))) {
        const mid = idxs.length >> 1;
        for (const [k, v] of await runGroup(idxs.slice(0, mid), attempt, isolate)) out.set(k, v);
        for (const [k, v] of await runGroup(idxs.slice(mid), attempt, isolate)) out.set(k, v);
      } else {
        const err = e instanceof Error ? e : new Error(String(e));
        for (const i of idxs) out.set(i, err);
      }
    }
    return out;
  };

  let pending = decoded.flatMap((d, i) => (d ? [i] : []));
  const results = new Map<number, Exclude<RecordResult<O>, Error>>();
  try {
    for (let attempt = 1; pending.length > 0; attempt++) {
      const res = await runGroup(pending, attempt, attempt === max && attempt > 1);
      const retry: number[] = [];
      let lastErr: unknown;
      for (const i of pending) {
        const r = res.get(i) ?? null;
        if (r instanceof Error) {
          if (isRetriable(r) && attempt < max) {
            retry.push(i);
            lastErr = r;
          } else await kill(i, r, attempt);
        } else results.set(i, r);
      }
      if (retry.length === 0) break;
      await pause(retry.length, attempt, lastErr);
      pending = retry;
    }

    const output = stage.output;
    const hasLineage = stage.config.lineageHeaders;
    for (const [i, r] of results) {
      const rec = decoded[i] as StageRecord<I>;
      const emits: Emit<O>[] = r === null ? [] : Array.isArray(r) ? r : [r];
      if (!output) {
        slots[i] = { kind: 'values', values: emits.map((e) => e.value) };
        continue;
      }
      const messages: OutMessage[] = [];
      try {
        for (const e of emits) {
          let value: Buffer;
          try {
            // no promise per record once the codec knows the schema id (encodeNow)
            value =
              output.codec.encodeNow?.(e.value, output.subject) ?? (await output.codec.encode(e.value, output.subject));
          } catch (err) {
            throw err instanceof StageError
              ? err
              : new EncodeError(String((err as Error)?.message ?? err), { cause: err });
          }
          const key = e.key === undefined ? rec.key : typeof e.key === 'string' ? Buffer.from(e.key) : e.key;
          const headers: Record<string, string | Buffer> = e.headers ? Object.assign({}, e.headers) : {};
          headers[TRACEPARENT] = formatTraceparent(span.recordContext(rec.trace));
          if (hasLineage) Object.assign(headers, lineage);
          const m: OutMessage = { key, value, headers };
          if (e.timestamp !== undefined) m.timestamp = String(e.timestamp);
          messages.push(m);
        }
        slots[i] = { kind: 'out', messages };
      } catch (err) {
        if (err instanceof RetriableError) throw err;
        await kill(i, err, 1);
      }
    }
    span.end();
  } catch (e) {
    span.end(e);
    throw e;
  }

  const outputs: OutMessage[] = [];
  const values: O[] = [];
  const dead: DeadEntry[] = [];
  for (const s of slots) {
    if (s?.kind === 'out') outputs.push(...s.messages);
    else if (s?.kind === 'values') values.push(...s.values);
    else if (s?.kind === 'dead') dead.push(s.entry);
  }
  return { outputs, values, dead, extra, transformMs };
}
