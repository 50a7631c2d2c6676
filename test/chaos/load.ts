import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { topicNames } from '@feedlog/topics';
import type { Kafka } from 'kafkajs';

/**
 * The load a scenario runs under: items pushed through POST /v1/items at a steady rate (a batch
 * that fails is pushed again until the API takes it, as a client with retries does), poison
 * produced straight to raw-headlines, and a reader that keeps asking the API and counts what fails.
 */

const words = [
  'Federal Reserve raises rates',
  'Apple unveils iPhone',
  'Ebola outbreak spreads',
  'World Cup final in Brazil',
  'Oil prices fall as OPEC meets',
  'Tesla opens battery factory',
  'Ukraine sanctions widen',
  'Netflix subscribers jump',
];

export function chaosItem(run: string, i: number) {
  return {
    source: 'chaos.example',
    url: `https://chaos.example/${run}/${i}`,
    title: `${words[i % words.length]} ${run} #${i}`,
    guid: `chaos:${run}:${i}`,
    published_at: new Date(Date.UTC(2026, 0, 1) + i * 1_000).toISOString(),
  };
}

export interface PushStats {
  /** item ids the API acknowledged (202) */
  acked: Set<string>;
  /** requests that failed (network error or non-2xx) and were retried */
  retries: number;
  /** of those, the ones that may have reached Kafka anyway (connection lost after sending) */
  ambiguous: number;
}

export class Pusher {
  readonly stats: PushStats = { acked: new Set(), retries: 0, ambiguous: 0 };
  private stopped = false;
  private finishing = false;
  private loop: Promise<void> | undefined;
  private next = 0;

  /** `total`: the fewest items pushed; the load goes on until the fault is healed */
  constructor(
    private readonly apiBase: string,
    private readonly key: string,
    private readonly run: string,
    private readonly opts: { total: number; ratePerSec: number; batch: number },
  ) {}

  get pushed(): number {
    return this.stats.acked.size;
  }

  start(): void {
    this.loop = this.go();
  }

  /**
   * The load runs until `finish()` (the fault healed) and at least `total` items were
   * acknowledged; resolves then.
   */
  finish(): Promise<void> {
    this.finishing = true;
    return this.loop ?? Promise.resolve();
  }

  stop(): void {
    this.stopped = true;
  }

  private async go(): Promise<void> {
    const { total, ratePerSec, batch } = this.opts;
    const t0 = Date.now();
    while (!this.stopped && !(this.finishing && this.next >= total)) {
      const n = batch;
      const items = Array.from({ length: n }, (_, k) => chaosItem(this.run, this.next + k));
      for (;;) {
        if (this.stopped) return;
        const r = await this.post(items);
        if (r) {
          for (const id of r) this.stats.acked.add(id);
          break;
        }
        this.stats.retries++;
        await sleep(500);
      }
      this.next += n;
      // steady rate: sleep until this many items are due
      const due = t0 + (this.next / ratePerSec) * 1_000;
      if (due > Date.now()) await sleep(due - Date.now());
    }
  }

  private async post(items: ReturnType<typeof chaosItem>[]): Promise<string[] | undefined> {
    try {
      const r = await fetch(`${this.apiBase}/v1/items`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': this.key },
        body: JSON.stringify({ items }),
        signal: AbortSignal.timeout(15_000),
      });
      if (r.status !== 202) {
        await r.body?.cancel();
        return undefined;
      }
      const body = (await r.json()) as { items: { item_id: string }[] };
      return body.items.map((x) => x.item_id);
    } catch {
      // the request may have been produced before the connection went (API killed mid-request)
      this.stats.ambiguous++;
      return undefined;
    }
  }
}

/**
 * `count` undecodable records (random bytes, no registry framing) produced to raw-headlines keyed
 * `poison-<run>-<i>`, spread over the scenario: each must land in classify's dead-letter topic once.
 */
export async function producePoison(kafka: Kafka, prefix: string, run: string, count: number): Promise<string[]> {
  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  const keys = Array.from({ length: count }, (_, i) => `poison-${run}-${i}`);
  try {
    for (let i = 0; i < keys.length; i += 50) {
      await producer.send({
        topic: `${prefix}${topicNames.raw}`,
        acks: -1,
        messages: keys.slice(i, i + 50).map((key) => ({ key, value: randomBytes(40) })),
      });
    }
  } finally {
    await producer.disconnect();
  }
  return keys;
}

/** Reads through the API (an item by id, then a search) in a loop; counts answers and failures. */
export class Reader {
  ok = 0;
  failed = 0;
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly apiBase: string,
    private readonly key: string,
    private readonly ids: () => string[],
    private readonly intervalMs = 200,
  ) {}

  start(): void {
    this.loop = this.go();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  private async go(): Promise<void> {
    for (let i = 0; !this.stopped; i++) {
      const ids = this.ids();
      const path =
        i % 2 === 0 && ids.length
          ? `/v1/items/${encodeURIComponent(ids[Math.floor(Math.random() * ids.length)] as string)}`
          : `/v1/search?q=${encodeURIComponent(words[i % words.length] as string)}&limit=5`;
      try {
        const r = await fetch(this.apiBase + path, {
          headers: { 'x-api-key': this.key },
          signal: AbortSignal.timeout(5_000),
        });
        await r.body?.cancel();
        // 404: an item acknowledged but not yet materialized is an answer, not a failure
        if (r.ok || r.status === 404) this.ok++;
        else this.failed++;
      } catch {
        this.failed++;
      }
      await sleep(this.intervalMs);
    }
  }
}
