// Same-run baselines: what the broker moves for the same bytes with Kafka's own perf tools, and
// what the embedding endpoint does alone; the e2e figures are printed as ratios of these.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FeedlogConfig } from '@feedlog/common';
import { createKafka } from '@feedlog/common';
import { ensureKafkaTools, runKafkaTool } from '@feedlog/scripts/launch/kafka-tools';

export interface BrokerBaseline {
  records: number;
  recordBytes: number;
  partitions: number;
  produceRecordsPerSec: number;
  consumeRecordsPerSec: number;
  produceOutput: string;
}

/**
 * kafka-producer-perf-test (acks=all, idempotent, as the API's producer) then
 * kafka-consumer-perf-test over a scratch topic of `partitions` partitions, deleted after.
 */
export async function brokerBaseline(
  cfg: FeedlogConfig,
  records: number,
  recordBytes: number,
  partitions: number,
  log: (s: string) => void,
): Promise<BrokerBaseline> {
  const lib = ensureKafkaTools(cfg.cache, cfg.kafka.version, log);
  const topic = `bench-e2e-raw-${randomBytes(3).toString('hex')}`;
  const admin = createKafka(cfg, { clientId: 'bench-e2e-baseline' }).admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
    const brokers = cfg.kafka.brokers.join(',');
    const p = await runKafkaTool(lib, 'kafka-producer-perf-test', [
      '--topic',
      topic,
      '--num-records',
      String(records),
      '--record-size',
      String(recordBytes),
      '--throughput',
      '-1',
      '--producer-props',
      `bootstrap.servers=${brokers}`,
      'acks=all',
      'enable.idempotence=true',
      'linger.ms=5',
    ]);
    // last line: "N records sent, X records/sec (Y MB/sec), …"
    const prod = /([\d.]+) records\/sec/.exec(p.stdout.trim().split('\n').at(-1) ?? '');
    if (p.code !== 0 || !prod)
      throw new Error(`kafka-producer-perf-test failed: ${p.stderr || p.stdout}`.slice(0, 500));
    const c = await runKafkaTool(lib, 'kafka-consumer-perf-test', [
      '--bootstrap-server',
      brokers,
      '--topic',
      topic,
      '--messages',
      String(records),
      '--timeout',
      '60000',
      '--group',
      `${topic}-g`,
    ]);
    // header then one CSV line: …, data.consumed.in.nMsg, nMsg.sec, …
    const lines = c.stdout.trim().split('\n');
    const header = (lines.find((l) => l.includes('nMsg.sec')) ?? '').split(',').map((s) => s.trim());
    const row = (lines.at(-1) ?? '').split(',').map((s) => s.trim());
    const cons = Number(row[header.indexOf('nMsg.sec')]);
    if (c.code !== 0 || !Number.isFinite(cons))
      throw new Error(`kafka-consumer-perf-test failed: ${c.stderr}`.slice(0, 500));
    return {
      records,
      recordBytes,
      partitions,
      produceRecordsPerSec: Number(prod[1]),
      consumeRecordsPerSec: cons,
      produceOutput: p.stdout.trim().split('\n').at(-1) ?? '',
    };
  } finally {
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.deleteGroups([`${topic}-g`]).catch(() => undefined);
    await admin.disconnect();
  }
}

export interface EmbedderBaseline {
  baseUrl: string;
  texts: number;
  batch: number;
  concurrency: number;
  textsPerSec: number;
}

/** The embedding endpoint alone: `texts` titles in batches of `batch`, `concurrency` in flight. */
export async function embedderBaseline(
  baseUrl: string,
  model: string,
  titles: string[],
  batch = 64,
  concurrency = 4,
): Promise<EmbedderBaseline> {
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    for (;;) {
      const from = next;
      next += batch;
      if (from >= titles.length) return;
      const input = titles.slice(from, from + batch);
      for (let attempt = 0; ; attempt++) {
        const r = await fetch(`${baseUrl}/embeddings`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model, input, encoding_format: 'base64' }),
          signal: AbortSignal.timeout(120_000),
        });
        if (r.ok) {
          await r.arrayBuffer();
          break;
        }
        if (attempt > 5) throw new Error(`embedder baseline: ${r.status} ${await r.text()}`);
        await sleep(200 * 2 ** attempt);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const s = (performance.now() - t0) / 1000;
  return { baseUrl, texts: titles.length, batch, concurrency, textsPerSec: Number((titles.length / s).toFixed(1)) };
}
