// One stage of the Redis pipelines as its own process, the way such systems are built:
//   pubsub:  SUBSCRIBE <input channel>, transform, PUBLISH <output channel> (JSON), batched by a
//            20 ms / 64-message linger like feedlog's stages;
//   streams: XREADGROUP (own pending entries first after a restart, then new ones), transform,
//            XADD to the next stream, then XACK: at-least-once, nothing atomic between the two.
// Env: REDIS_PORT, REDIS_MODE (pubsub|streams), REDIS_STAGE, EMBED_URL, EMBED_MODEL, OUT_FILE.
// Prints "ready" on stdout once it listens.
import { Redis } from 'ioredis';
import { CHANNELS, groupOf, type Msg, type RedisStage, STAGES, transformFor } from './transforms.ts';

const BATCH = 64;
const LINGER_MS = 20;

async function pubsub(redisOpts: { port: number }, stage: RedisStage, transform: (b: Msg[]) => Promise<Msg[]>) {
  const i = STAGES.indexOf(stage);
  const out = CHANNELS[i + 1];
  const sub = new Redis({ ...redisOpts, host: '127.0.0.1' });
  const pub = new Redis({ ...redisOpts, host: '127.0.0.1' });
  let pending: Msg[] = [];
  let timer: NodeJS.Timeout | undefined;
  let chain = Promise.resolve();
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    const batch = pending;
    pending = [];
    if (batch.length === 0) return;
    chain = chain.then(async () => {
      const res = await transform(batch);
      if (out && res.length) {
        const p = pub.pipeline();
        for (const m of res) p.publish(out, JSON.stringify(m));
        await p.exec();
      }
    });
  };
  sub.on('message', (_ch: string, data: string) => {
    pending.push(JSON.parse(data) as Msg);
    if (pending.length >= BATCH) flush();
    else timer ??= setTimeout(flush, LINGER_MS);
  });
  await sub.subscribe(CHANNELS[i] as string);
}

async function streams(redisOpts: { port: number }, stage: RedisStage, transform: (b: Msg[]) => Promise<Msg[]>) {
  const i = STAGES.indexOf(stage);
  const input = CHANNELS[i] as string;
  const out = CHANNELS[i + 1];
  const r = new Redis({ ...redisOpts, host: '127.0.0.1' });
  const group = groupOf(stage);
  const consumer = `${stage}-1`; // the same name after a restart: its pending entries are its own
  let backlog = true; // first the entries delivered before a crash and never acknowledged
  process.stdout.write('ready\n');
  for (;;) {
    const res = (await r.xreadgroup(
      'GROUP',
      group,
      consumer,
      'COUNT',
      BATCH,
      'BLOCK',
      1000,
      'STREAMS',
      input,
      backlog ? '0' : '>',
    )) as [string, [string, string[]][]][] | null;
    const entries = res?.[0]?.[1] ?? [];
    if (backlog && entries.length === 0) {
      backlog = false;
      continue;
    }
    if (entries.length === 0) continue;
    const batch = entries.map(([, f]) => JSON.parse(f[1] ?? '{}') as Msg);
    const outMsgs = await transform(batch);
    if (out && outMsgs.length) {
      const p = r.pipeline();
      for (const m of outMsgs) p.xadd(out, '*', 'd', JSON.stringify(m));
      await p.exec();
    }
    await r.xack(input, group, ...entries.map(([id]) => id));
  }
}

const stage = process.env.REDIS_STAGE as RedisStage;
if (!STAGES.includes(stage)) throw new Error(`REDIS_STAGE: one of ${STAGES.join(', ')}`);
const redisOpts = { port: Number(process.env.REDIS_PORT) };
const transform = transformFor(stage, {
  embedUrl: process.env.EMBED_URL ?? '',
  model: process.env.EMBED_MODEL ?? 'all-MiniLM-L6-v2-int8',
  outFile: process.env.OUT_FILE ?? '/dev/null',
});
if (process.env.REDIS_MODE === 'streams') await streams(redisOpts, stage, transform);
else {
  await pubsub(redisOpts, stage, transform);
  process.stdout.write('ready\n');
}
