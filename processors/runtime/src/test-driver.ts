import { Breaker } from './breaker.ts';
import type { Stage } from './define-stage.ts';
import { type DeadLetter, deadLetterJsonCodec, type RawRecord } from './dlq.ts';
import { BreakerOpenError } from './errors.ts';
import { processBatch } from './process-batch.ts';
import { sizeOf } from './raw.ts';
import { sleep } from './retry.ts';

export interface DriverInput<I> {
  key?: string | Buffer | null;
  /** a value to encode with the stage's input codec, or raw bytes (to feed undecodable records) */
  value: I | Buffer | null;
  headers?: Record<string, string | Buffer>;
  partition?: number;
}

export interface DriverOutput<O> {
  key: string | null;
  value: O;
  headers: Record<string, string>;
}

export interface DriverResult<O> {
  outputs: DriverOutput<O>[];
  /** store stages: the values the store would be given */
  values: O[];
  /** what the transform sent to other topics with ctx.send */
  extra: { topic: string; key: string | null; value: Buffer | null; headers: Record<string, string> }[];
  dead: DeadLetter[];
  batches: number;
  /** the backoff delays the runtime would have slept, in order */
  retryDelays: number[];
}

/**
 * Kafka Streams' TopologyTestDriver idea: run a stage definition over an array of input
 * records without a broker, through the same decode → transform → retry/DLQ → encode path the
 * Kafka runtime uses. Batches are cut as the runtime cuts them (`batch.maxRecords`, `batch.maxBytes`), per partition. Retry
 * backoffs are recorded, not slept.
 */
export async function runInMemory<I, O>(
  stage: Stage<I, O>,
  inputs: DriverInput<I>[],
  opts: { sleepForReal?: boolean } = {},
): Promise<DriverResult<O>> {
  const byPartition = new Map<number, RawRecord[]>();
  const subject = `${stage.input.topic}-value`;
  for (const inp of inputs) {
    const partition = inp.partition ?? 0;
    const list = byPartition.get(partition) ?? [];
    const headers: Record<string, Buffer> = {};
    for (const [k, v] of Object.entries(inp.headers ?? {})) headers[k] = Buffer.isBuffer(v) ? v : Buffer.from(v);
    list.push({
      topic: stage.input.topic,
      partition,
      offset: String(list.length),
      timestamp: String(Date.now()),
      key: inp.key == null ? null : Buffer.isBuffer(inp.key) ? inp.key : Buffer.from(inp.key),
      value:
        inp.value === null
          ? null
          : Buffer.isBuffer(inp.value)
            ? inp.value
            : await stage.input.codec.encode(inp.value as I, subject),
      headers,
    });
    byPartition.set(partition, list);
  }

  const breakers = new Map<string, Breaker>();
  const breaker = (name: string) => {
    let b = breakers.get(name);
    if (!b) {
      b = new Breaker(name, stage.config.breaker);
      breakers.set(name, b);
    }
    return b;
  };
  const retryDelays: number[] = [];
  const fakeSleep = async (ms: number) => {
    retryDelays.push(ms);
  };
  const signal = new AbortController().signal;
  const dlqCodec = stage.dlq.codec ?? deadLetterJsonCodec;
  const result: DriverResult<O> = { outputs: [], values: [], extra: [], dead: [], batches: 0, retryDelays };

  for (const [partition, records] of byPartition) {
    await stage.onAssigned?.({ topic: stage.input.topic, partition, committedOffset: -1 });
    for (const batch of cutBatches(records, stage.config.batch)) {
      for (;;) {
        try {
          const r = await processBatch(stage, batch, {
            breaker,
            signal,
            ...(opts.sleepForReal ? {} : { sleep: fakeSleep }),
          });
          result.batches++;
          result.values.push(...r.values);
          const output = stage.output;
          for (const o of output ? r.outputs : []) {
            const headers: Record<string, string> = {};
            for (const [k, v] of Object.entries(o.headers)) headers[k] = v.toString();
            result.outputs.push({
              key: o.key?.toString() ?? null,
              value: await (output as NonNullable<typeof output>).codec.decode(o.value),
              headers,
            });
          }
          for (const d of r.dead) result.dead.push(await dlqCodec.decode(d.message.value));
          for (const x of r.extra) {
            const headers: Record<string, string> = {};
            for (const [k, v] of Object.entries(x.message.headers)) headers[k] = v.toString();
            result.extra.push({
              topic: x.topic,
              key: x.message.key?.toString() ?? null,
              value: x.message.value,
              headers,
            });
          }
          break;
        } catch (e) {
          if (!(e instanceof BreakerOpenError)) throw e;
          await sleep(e.retryAfterMs);
        }
      }
    }
  }
  for (const partition of byPartition.keys()) await stage.onRevoked?.({ topic: stage.input.topic, partition });
  return result;
}

/** the runtime's cut: up to maxRecords and maxBytes (sizeOf), at least one record a batch */
function cutBatches(records: RawRecord[], limits: { maxRecords: number; maxBytes: number }): RawRecord[][] {
  const out: RawRecord[][] = [];
  let cur: RawRecord[] = [];
  let bytes = 0;
  for (const r of records) {
    const size = sizeOf(r);
    if (cur.length > 0 && (cur.length >= limits.maxRecords || bytes + size > limits.maxBytes)) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(r);
    bytes += size;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}
