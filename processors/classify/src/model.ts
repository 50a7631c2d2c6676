import { type ArtifactHeader, decodeArtifact, readArtifact } from './artifact.ts';
import { Featurizer } from './features.ts';
import { type LinearWeights, scoreInto, softmaxInPlace } from './linear.ts';

export interface Prediction {
  category: string;
  /** Softmax probability of `category` (temperature-scaled for the NB-family methods). */
  confidence: number;
}

/** A loaded classifier: featuriser + linear weights + header (name, version, labels, metrics). */
export class ClassifierModel {
  private readonly featurizer: Featurizer;
  private readonly scores: Float64Array;

  constructor(
    readonly header: ArtifactHeader,
    readonly weights: LinearWeights,
  ) {
    this.featurizer = new Featurizer(header.features);
    this.scores = new Float64Array(weights.classes);
  }

  get name(): string {
    return this.header.name;
  }
  get version(): string {
    return this.header.version;
  }
  get labels(): readonly string[] {
    return this.header.labels;
  }

  predictOne(text: string): Prediction {
    const s = this.scores;
    scoreInto(this.weights, this.featurizer.transform(text), s);
    const arg = softmaxInPlace(s, this.weights.classes, this.header.temperature);
    return { category: this.header.labels[arg]!, confidence: s[arg]! };
  }

  /** Class probabilities in `labels` order. */
  probabilities(text: string): number[] {
    const s = this.scores;
    scoreInto(this.weights, this.featurizer.transform(text), s);
    softmaxInPlace(s, this.weights.classes, this.header.temperature);
    return Array.from(s);
  }

  predict(texts: readonly string[]): Prediction[] {
    return texts.map((t) => this.predictOne(t));
  }
}

export function loadModel(path: string): ClassifierModel {
  const { header, weights } = readArtifact(path);
  return new ClassifierModel(header, weights);
}

export function modelFromBytes(bytes: Buffer): ClassifierModel {
  const { header, weights } = decodeArtifact(bytes);
  return new ClassifierModel(header, weights);
}
