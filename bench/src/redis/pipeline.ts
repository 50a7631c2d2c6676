// One run of the four-stage Redis pipeline (pub/sub or Streams): one worker process per stage,
// the load published at `rate`, one stage SIGKILLed at `restartAt` of the load and started again
// after `downMs`; arrivals read back from the index stage's log.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot } from '@feedlog/common';
import { Redis } from 'ioredis';
import { type HeadlineSet, nthItem } from '../e2e/headlines.ts';
import { fromArrivals, type SystemResult } from './result.ts';
import { CHANNELS, groupOf, type Msg, type RedisStage, STAGES } from './transforms.ts';

export interface ComparisonLoad {
  records: number;
  rate: number;
  restartStage: RedisStage;
  /** fraction of the load pushed when the stage is killed */
  restartAt: number;
  downMs: number;
  set: HeadlineSet;
  embedUrl: string;
  model: string;
  log: (s: string) => void;
}

function spawnWorker(mode: 'pubsub' | 'streams', stage: RedisStage, port: number, outFile: string, o: ComparisonLoad) {
  const root = repoRoot();
  const tsx = createRequire(join(root, 'package.json')).resolve('tsx');
  const child = spawn(process.execPath, ['--import', tsx, join(root, 'bench/src/redis/worker.ts')], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: {
      ...process.env,
      REDIS_PORT: String(port),
      REDIS_MODE: mode,
      REDIS_STAGE: stage,
      EMBED_URL: o.embedUrl,
      EMBED_MODEL: o.model,
      OUT_FILE: outFile,
    },
  });
  const ready = new Promise<void>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (l) => l === 'ready' && resolve());
    child.once('exit', (c) => reject(new Error(`${stage} worker exited (${c}) before it was ready`)));
  });
  return { child, ready };
}

export async function runRedisPipeline(mode: 'pubsub' | 'streams', port: number, dir: string, o: ComparisonLoad) {
  const outFile = join(dir, `${mode}-index.log`);
  if (existsSync(outFile)) rmSync(outFile);
  const admin = new Redis({ port, host: '127.0.0.1' });
  await admin.flushall();
  if (mode === 'streams') {
    for (const [i, s] of STAGES.entries())
      await admin.xgroup('CREATE', CHANNELS[i] as string, groupOf(s), '0', 'MKSTREAM');
  }
  const workers = new Map<RedisStage, ChildProcess>();
  for (const s of STAGES) {
    const w = spawnWorker(mode, s, port, outFile, o);
    await w.ready;
    workers.set(s, w.child);
  }
  o.log(`${mode}: 4 stage processes listening; pushing ${o.records} at ${o.rate}/s`);
  const run = `redis-${mode}-${Date.now().toString(36)}`;
  const t0 = Date.now();
  const restartAtMs = ((o.records * o.restartAt) / o.rate) * 1000;
  let restart: Promise<void> | undefined;
  const restartInfo = { stage: o.restartStage, atSecond: 0, downSeconds: 0 };
  const tick = 50; // ms
  let sent = 0;
  while (sent < o.records) {
    const due = Math.min(o.records, Math.floor(((Date.now() - t0) / 1000) * o.rate) + 1);
    if (due > sent) {
      const p = admin.pipeline();
      for (; sent < due; sent++) {
        const it = nthItem(o.set, run, sent);
        const m: Msg = {
          id: it.guid,
          title: it.title,
          ...(it.summary ? { summary: it.summary } : {}),
          pushedAt: Date.now(),
        };
        if (mode === 'pubsub') p.publish(CHANNELS[0], JSON.stringify(m));
        else p.xadd(CHANNELS[0], '*', 'd', JSON.stringify(m));
      }
      await p.exec();
    }
    if (!restart && Date.now() - t0 >= restartAtMs) {
      restart = (async () => {
        const w = workers.get(o.restartStage);
        restartInfo.atSecond = Number(((Date.now() - t0) / 1000).toFixed(1));
        const down = Date.now();
        w?.kill('SIGKILL');
        await sleep(o.downMs);
        const nw = spawnWorker(mode, o.restartStage, port, outFile, o);
        await nw.ready;
        workers.set(o.restartStage, nw.child);
        restartInfo.downSeconds = Number(((Date.now() - down) / 1000).toFixed(1));
        o.log(
          `${mode}: ${o.restartStage} killed at ${restartInfo.atSecond} s, listening again after ${restartInfo.downSeconds} s`,
        );
      })();
    }
    await sleep(tick);
  }
  await restart;
  // wait until everything arrived or nothing more comes (pub/sub cannot tell what it dropped)
  let last = -1;
  let still = 0;
  for (;;) {
    await sleep(1_000);
    const n = existsSync(outFile) ? readFileSync(outFile, 'utf8').split('\n').length - 1 : 0;
    if (n >= o.records && mode === 'pubsub') break;
    still = n === last ? still + 1 : 0;
    last = n;
    if (still >= 10) break;
  }
  for (const w of workers.values()) w.kill('SIGTERM');
  admin.disconnect();
  const lines = existsSync(outFile) ? readFileSync(outFile, 'utf8').split('\n') : [];
  const name = mode === 'pubsub' ? 'Redis pub/sub' : 'Redis Streams, consumer groups';
  const notes =
    mode === 'pubsub'
      ? 'fire-and-forget: what is published while a subscriber is away is gone'
      : 'at-least-once: XADD then XACK; the restarted consumer re-reads its pending entries';
  return fromArrivals(name, o.records, t0, lines, restartInfo, notes) satisfies SystemResult;
}
