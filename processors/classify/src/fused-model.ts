import type { EmbeddingHead } from './embedding-head.ts';
import { headProbabilities } from './embedding-head.ts';
import { argmax, type FusionParams, fuse } from './fusion.ts';
import type { KnnVoter } from './knn.ts';
import type { ClassifierModel, Prediction } from './model.ts';

/** Vectors for texts, in order (the stage's embedding client + cache; in training, the same). */
export type EmbedTexts = (texts: string[]) => Promise<Float32Array[]>;

export interface FusedHeader {
  format: 'feedlog-fused-classifier';
  formatVersion: 1;
  name: string;
  /** first 16 hex of SHA-256 over every byte and setting that changes predictions */
  version: string;
  labels: string[];
  /** the sentence-embedding model the head and the neighbours were trained on (the stage must ask for it) */
  embedding: { model: string; dims: number };
  fusion: FusionParams & { members: ['ngram', 'head', 'knn']; chosenBy: string };
  head: { l2: number; chosenFrom?: number[] };
  knn: { k: number; tau: number; smooth: number; rows: number };
  training: Record<string, unknown>;
  metrics: Record<string, unknown>;
  createdAt: string;
  /** byte lengths of the sections after the header: n-gram artifact, head, kNN vectors, kNN labels */
  sections: { ngram: number; head: number; vectors: number; labels: number; sha256: string };
}

/**
 * The fused classifier: the n-gram model (an ordinary `.flcm` inside), a softmax head on standardised
 * sentence embeddings and k-nearest-neighbour votes over the training rows' embeddings, combined by
 * log-linear fusion with weights and temperature chosen on out-of-fold predictions (fused-train.ts).
 */
export class FusedClassifierModel {
  readonly kind = 'fused' as const;

  constructor(
    readonly header: FusedHeader,
    readonly ngram: ClassifierModel,
    readonly head: EmbeddingHead,
    readonly knn: KnnVoter,
  ) {}

  get name(): string {
    return this.header.name;
  }
  get version(): string {
    return this.header.version;
  }
  get labels(): readonly string[] {
    return this.header.labels;
  }
  get embeddingModel(): string {
    return this.header.embedding.model;
  }

  /** the three members' distributions per text (n-gram, head, kNN) */
  memberProbabilities(texts: readonly string[], vectors: readonly Float32Array[]): Float64Array[][] {
    if (texts.length !== vectors.length) throw new RangeError('one vector per text');
    const knn = this.knn.probabilities(vectors);
    return texts.map((t, i) => [
      Float64Array.from(this.ngram.probabilities(t)),
      headProbabilities(this.head, vectors[i]!),
      knn[i]!,
    ]);
  }

  probabilitiesWithVectors(texts: readonly string[], vectors: readonly Float32Array[]): Float64Array[] {
    return this.memberProbabilities(texts, vectors).map((m) => fuse(m, this.header.fusion));
  }

  predictWithVectors(texts: readonly string[], vectors: readonly Float32Array[]): Prediction[] {
    return this.probabilitiesWithVectors(texts, vectors).map((p) => {
      const a = argmax(p);
      return { category: this.header.labels[a]!, confidence: p[a]! };
    });
  }

  async predict(texts: string[], embed: EmbedTexts): Promise<Prediction[]> {
    return this.predictWithVectors(texts, await embed(texts));
  }
}
