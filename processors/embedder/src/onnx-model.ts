import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ModelFiles } from './fetch.ts';
import type { ModelSpec } from './models.ts';
import { type TokenIds, WordPieceTokenizer } from './tokenizer.ts';

/** Something that turns token rows into sentence vectors: the ONNX model, or a fake in tests. */
export interface SentenceModel {
  readonly spec: Pick<ModelSpec, 'name' | 'dimensions' | 'maxTokens' | 'upstream'>;
  readonly tokenizer: { encode(text: string): TokenIds; wrap(ids: readonly number[]): TokenIds; vocabSize: number };
  /** How many calls may run at once; the batcher keeps at most this many in flight. */
  readonly parallelism: number;
  /** One model call: a vector (length dimensions) per row. */
  embed(rows: readonly TokenIds[]): Promise<Float32Array[]>;
  close(): Promise<void>;
}

export type GraphOptimizationLevel = 'disabled' | 'basic' | 'extended' | 'all';
export type ExecutionMode = 'sequential' | 'parallel';

export interface OnnxModelOptions {
  /**
   * ORT sessions, each on its own worker thread (default 1 using every core: measured equal or
   * faster than one single-threaded session per core at batch 16/64 and 2–5× faster at batch 1,
   * with half the memory; bench/RESULTS.md issue 14).
   */
  sessions?: number;
  /** ORT intra-op threads per session (default: cores / sessions, at least 1). */
  intraOpThreads?: number;
  /** ORT inter-op threads per session (default 1: these graphs are one chain, nothing runs beside it). */
  interOpThreads?: number;
  /** ORT graph optimisation level (default 'all': fastest measured, bench/RESULTS.md issue 14). */
  graphOptimizationLevel?: GraphOptimizationLevel;
  /** ORT execution mode (default 'sequential'; 'parallel' only helps graphs with independent branches). */
  executionMode?: ExecutionMode;
  /** Let idle intra-op threads spin (default false: on a shared machine a spinning thread takes a core). */
  allowSpinning?: boolean;
  /**
   * Length buckets: a call's rows are sorted by token count and run in groups of at most this many
   * rows, each padded only to its own longest row; vectors come back in input order (default 16,
   * measured; 0 pads the whole call to its longest row).
   */
  bucketRows?: number;
}

/** Settings one session worker is started with (OnnxModelOptions with the defaults filled in). */
interface WorkerSettings {
  graphOptimizationLevel: GraphOptimizationLevel;
  intraOpThreads: number;
  interOpThreads: number;
  executionMode: ExecutionMode;
  allowSpinning: boolean;
  bucketRows: number;
}

export const DEFAULT_BUCKET_ROWS = 16;

interface Pending {
  resolve: (v: Float32Array) => void;
  reject: (e: Error) => void;
}

/** One ORT session on a worker thread (see onnx-worker.mjs for why). */
class SessionWorker {
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  private failure: Error | undefined;

  private constructor(readonly worker: Worker) {
    worker.on('message', (m: { id: number; vectors?: Float32Array; error?: string }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.vectors) p.resolve(m.vectors);
      else p.reject(new Error(m.error ?? 'worker returned nothing'));
    });
    const fail = (e: Error) => {
      this.failure = e;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`ONNX worker exited with code ${code}`)));
  }

  static start(spec: ModelSpec, onnx: string, settings: WorkerSettings): Promise<SessionWorker> {
    const { bucketRows, ...ortOptions } = settings;
    const worker = new Worker(new URL('./onnx-worker.mjs', import.meta.url), {
      workerData: {
        onnx,
        outputName: spec.tokenEmbeddingsOutput,
        dims: spec.dimensions,
        pooling: spec.pooling,
        normalize: spec.normalize,
        bucketRows,
        ort: ortOptions,
      },
    });
    return new Promise((resolve, reject) => {
      const onError = (e: Error) => reject(new Error(`${spec.name}: cannot load ${onnx}: ${e.message}`));
      worker.once('error', onError);
      worker.once('message', (m: { ready?: boolean; inputs: string[]; outputs: string[] }) => {
        worker.off('error', onError);
        if (!m.inputs.includes('input_ids') || !m.inputs.includes('attention_mask')) {
          void worker.terminate();
          reject(new Error(`${spec.name}: graph inputs ${m.inputs} lack input_ids/attention_mask`));
        } else if (!m.outputs.includes(spec.tokenEmbeddingsOutput)) {
          void worker.terminate();
          reject(new Error(`${spec.name}: graph has no output ${spec.tokenEmbeddingsOutput} (has ${m.outputs})`));
        } else {
          resolve(new SessionWorker(worker));
        }
      });
    });
  }

  /** The worker died (crash, OOM, terminate): it will not answer again. */
  get failed(): boolean {
    return this.failure !== undefined;
  }

  run(rows: readonly TokenIds[]): Promise<Float32Array> {
    if (this.failure) return Promise.reject(this.failure);
    const lengths = Int32Array.from(rows, (r) => r.length);
    const ids = new Int32Array(lengths.reduce((a, b) => a + b, 0));
    let o = 0;
    for (const r of rows) {
      ids.set(r, o);
      o += r.length;
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, ids, lengths }, [ids.buffer, lengths.buffer]);
    });
  }

  async stop(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }
}

/**
 * A sentence-transformers model (Transformer → mean or CLS pooling → Normalize) run with onnxruntime-node.
 * Holds `sessions` ORT sessions on worker threads; embed() uses a free one, so up to `parallelism`
 * calls run at once on different cores.
 */
export class OnnxSentenceModel implements SentenceModel {
  private readonly free: SessionWorker[];
  /** Model calls made (one per embed()). */
  calls = 0;

  private constructor(
    readonly spec: ModelSpec,
    readonly tokenizer: WordPieceTokenizer,
    private readonly workers: SessionWorker[],
    private readonly onnx: string,
    readonly settings: Readonly<WorkerSettings>,
  ) {
    this.free = [...workers];
  }

  /** Workers restarted after they died. */
  restarts = 0;

  get parallelism(): number {
    return this.workers.length;
  }

  static async load(files: ModelFiles, opts: OnnxModelOptions = {}): Promise<OnnxSentenceModel> {
    const cores = availableParallelism();
    const n = Math.max(1, opts.sessions ?? 1);
    const settings: WorkerSettings = {
      intraOpThreads: Math.max(1, opts.intraOpThreads ?? Math.floor(cores / n)),
      interOpThreads: Math.max(1, opts.interOpThreads ?? 1),
      graphOptimizationLevel: opts.graphOptimizationLevel ?? 'all',
      executionMode: opts.executionMode ?? 'sequential',
      allowSpinning: opts.allowSpinning ?? false,
      bucketRows: Math.max(0, opts.bucketRows ?? DEFAULT_BUCKET_ROWS),
    };
    const tokenizer = await WordPieceTokenizer.fromFiles(
      files.tokenizerJson,
      files.tokenizerConfig,
      files.spec.maxTokens,
    );
    const workers = await Promise.all(
      Array.from({ length: n }, () => SessionWorker.start(files.spec, files.onnx, settings)),
    );
    return new OnnxSentenceModel(files.spec, tokenizer, workers, files.onnx, settings);
  }

  async embed(rows: readonly TokenIds[]): Promise<Float32Array[]> {
    if (rows.length === 0) return [];
    let w = this.free.pop();
    if (!w) throw new Error(`${this.spec.name}: more concurrent calls than sessions (${this.workers.length})`);
    if (w.failed) {
      // A dead worker is replaced on its next use, so one crash costs one failed call, not the service.
      try {
        const fresh = await SessionWorker.start(this.spec, this.onnx, this.settings);
        this.workers[this.workers.indexOf(w)] = fresh;
        w = fresh;
        this.restarts++;
      } catch (e) {
        this.free.push(w);
        throw e;
      }
    }
    this.calls++;
    try {
      const flat = await w.run(rows);
      const d = this.spec.dimensions;
      return rows.map((_, i) => flat.subarray(i * d, (i + 1) * d));
    } finally {
      this.free.push(w);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.stop()));
  }
}
