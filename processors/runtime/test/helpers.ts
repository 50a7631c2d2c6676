import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { countByKey, readCommitted as sharedReadCommitted, testKafka, uniqueName } from '@feedlog/test';
import type { Kafka, KafkaMessage } from 'kafkajs';

export const uppercaseEntry = resolve(import.meta.dirname, 'fixtures/uppercase-main.ts');

export interface Topics {
  input: string;
  output: string;
  dlq: string;
  /** a side topic a stage can write with ctx.send (a state changelog) */
  changelog: string;
  stage: string;
}

export async function createTopics(kafka: Kafka, prefix: string, partitions: number): Promise<Topics> {
  const base = uniqueName(prefix);
  const t: Topics = {
    input: `${base}.in`,
    output: `${base}.out`,
    dlq: `${base}.dlq`,
    changelog: `${base}.changelog`,
    stage: base.replace(/^test\./, 't-'),
  };
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      { topic: t.input, numPartitions: partitions },
      { topic: t.output, numPartitions: partitions },
      { topic: t.dlq, numPartitions: 1 },
      { topic: t.changelog, numPartitions: partitions },
    ].map((x) => ({ ...x, replicationFactor: 1 })),
  });
  await admin.disconnect();
  return t;
}

export async function deleteTopics(kafka: Kafka, t: Topics): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [t.input, t.output, t.dlq, t.changelog] }).catch(() => {});
  await admin.disconnect();
}

export interface StageProcess {
  child: ChildProcess;
  events: Record<string, unknown>[];
  /** resolves with the first event matching */
  waitEvent(pred: (e: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr: string[];
}

export function spawnStage(t: Topics, extraEnv: Record<string, string> = {}): StageProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', uppercaseEntry], {
    env: {
      ...process.env,
      STAGE_NAME: t.stage,
      STAGE_INPUT: t.input,
      STAGE_OUTPUT: t.output,
      STAGE_DLQ: t.dlq,
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const events: Record<string, unknown>[] = [];
  const waiters: { pred: (e: Record<string, unknown>) => boolean; resolve: (e: Record<string, unknown>) => void }[] =
    [];
  const stderr: string[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    let e: Record<string, unknown>;
    try {
      e = JSON.parse(line);
    } catch {
      return;
    }
    events.push(e);
    for (const w of [...waiters]) {
      if (w.pred(e)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(e);
      }
    }
  });
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (l) => {
    stderr.push(l);
    if (stderr.length > 200) stderr.shift();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.on('exit', (code, signal) => res({ code, signal })),
  );
  return {
    child,
    events,
    stderr,
    exited,
    waitEvent(pred, timeoutMs = 60_000) {
      const found = events.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((res, rej) => {
        const t = setTimeout(
          () => rej(new Error(`no matching event within ${timeoutMs} ms; stderr: ${stderr.slice(-10).join('\n')}`)),
          timeoutMs,
        );
        waiters.push({
          pred,
          resolve: (e) => {
            clearTimeout(t);
            res(e);
          },
        });
      });
    },
  };
}

export async function produceRange(
  kafka: Kafka,
  topic: string,
  from: number,
  to: number,
  value: (i: number) => string = (i) => `v${i}`,
): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  for (let i = from; i < to; i += 2_000) {
    const messages = [];
    for (let j = i; j < Math.min(to, i + 2_000); j++) messages.push({ key: `k${j}`, value: value(j) });
    await producer.send({ topic, acks: -1, messages });
  }
  await producer.disconnect();
}

/**
 * Everything committed in `topic`, read_committed, from the beginning: reads until the count has
 * not changed for `quietMs` after reaching `atLeast` (the shared reader, with this suite's pace).
 */
export async function readCommitted(
  topic: string,
  atLeast: number,
  opts: { quietMs?: number; timeoutMs?: number } = {},
): Promise<KafkaMessage[]> {
  return sharedReadCommitted(testKafka('runtime-reader'), topic, atLeast, {
    quietMs: opts.quietMs ?? 2_000,
    timeoutMs: opts.timeoutMs ?? 60_000,
  });
}

export { countByKey };
