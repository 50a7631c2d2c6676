// The per-stage work of the Redis pipelines: the same classifier model as feedlog's classify
// stage, a token-hash stand-in for the cluster stage, the same embedding endpoint (batched) as
// the embed stage, and an index that appends (id, pushed at, indexed at) to a file.
import { appendFileSync } from 'node:fs';
import { isFused } from '@feedlog/classify/load-any';
import { loadClassifyModel } from '@feedlog/classify/stage';

export interface Msg {
  id: string;
  title: string;
  summary?: string;
  /** epoch ms when the load generator sent it */
  pushedAt: number;
  category?: string;
  confidence?: number;
  storyId?: string;
  vector?: string;
}

export type Transform = (batch: Msg[]) => Promise<Msg[]>;

export function classifyTransform(): Transform {
  const model = loadClassifyModel(undefined);
  if (isFused(model))
    throw new Error('the Redis comparison runs the n-gram model (a fused one needs the embedder first)');
  return async (batch) => {
    const p = model.predict(batch.map((m) => (m.summary ? `${m.title}\n${m.summary}` : m.title)));
    return batch.map((m, i) => ({ ...m, category: p[i]?.category ?? 'unknown', confidence: p[i]?.confidence ?? 0 }));
  };
}

export function clusterTransform(): Transform {
  const stories = new Map<string, string>();
  return async (batch) =>
    batch.map((m) => {
      // a story key from the three longest words: a cheap stand-in for the similarity search
      const words = m.title.toLowerCase().match(/[a-z]{4,}/g) ?? [];
      const key = [...new Set(words)]
        .sort((a, b) => b.length - a.length)
        .slice(0, 3)
        .sort()
        .join(' ');
      let story = stories.get(key);
      if (!story) {
        story = `s${stories.size}`;
        stories.set(key, story);
      }
      return { ...m, storyId: story };
    });
}

export function embedTransform(baseUrl: string, model: string): Transform {
  return async (batch) => {
    for (let attempt = 0; ; attempt++) {
      const r = await fetch(`${baseUrl}/embeddings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model, input: batch.map((m) => m.title), encoding_format: 'base64' }),
        signal: AbortSignal.timeout(30_000),
      }).catch((e: unknown) => e as Error);
      if (!(r instanceof Error) && r.ok) {
        const j = (await r.json()) as { data: { index: number; embedding: string }[] };
        return batch.map((m, i) => ({ ...m, vector: j.data[i]?.embedding ?? '' }));
      }
      if (attempt > 5) throw new Error(`embedding endpoint: ${r instanceof Error ? r.message : r.status}`);
      await new Promise((res) => setTimeout(res, 100 * 2 ** attempt));
    }
  };
}

export function indexTransform(outFile: string): Transform {
  return async (batch) => {
    const now = Date.now();
    appendFileSync(outFile, batch.map((m) => `${m.id} ${m.pushedAt} ${now}\n`).join(''));
    return [];
  };
}

export const STAGES = ['classify', 'cluster', 'embed', 'index'] as const;
export type RedisStage = (typeof STAGES)[number];
/** channel (pub/sub) or stream (Streams) each stage reads: named after what it carries */
export const CHANNELS = ['raw-headlines', 'classified', 'clustered', 'embedded'] as const;
export const groupOf = (stage: RedisStage) => `g-${stage}`;

export function transformFor(stage: RedisStage, o: { embedUrl: string; model: string; outFile: string }): Transform {
  switch (stage) {
    case 'classify':
      return classifyTransform();
    case 'cluster':
      return clusterTransform();
    case 'embed':
      return embedTransform(o.embedUrl, o.model);
    case 'index':
      return indexTransform(o.outFile);
  }
}
