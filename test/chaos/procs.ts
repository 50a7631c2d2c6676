import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A feedlog process the chaos suite can SIGKILL and start again: run through tsx as `feedlog up`
 * runs it (scripts/src/stack.ts), its output appended to a log file, ready when its health URL
 * answers 200. Children are not detached: they die with the harness's process group on Ctrl-C.
 */
export interface ServiceSpec {
  name: string;
  /** entry file, relative to the repository root */
  entry: string;
  env: Record<string, string>;
  /** answers 200 once the process is ready */
  healthUrl: string;
  readyTimeoutMs?: number;
}

/** Every child still running: SIGKILLed when the harness exits, so a crash of the harness leaves no orphans. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});
// Ctrl-C or a SIGTERM of the harness goes through 'exit' too (the default action would skip it)
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));

export class Service {
  child: ChildProcess | undefined;
  /** starts, SIGKILLs and exits seen (the table's fault counts come from here) */
  starts = 0;
  kills = 0;
  unexpectedExits: string[] = [];
  private out: WriteStream;
  private stopping = false;

  constructor(
    readonly spec: ServiceSpec,
    private readonly root: string,
    logDir: string,
  ) {
    this.out = createWriteStream(join(logDir, `${spec.name}.log`), { flags: 'a' });
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Spawn (no wait); `ready()` waits for the health URL. */
  spawn(extraEnv: Record<string, string> = {}): void {
    const tsx = createRequire(join(this.root, 'package.json')).resolve('tsx');
    const child = spawn(process.execPath, ['--import', tsx, join(this.root, this.spec.entry)], {
      cwd: this.root,
      env: { ...process.env, ...this.spec.env, ...extraEnv, FEEDLOG_ROOT: this.root },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.starts++;
    this.stopping = false;
    child.stdout?.pipe(this.out, { end: false });
    child.stderr?.pipe(this.out, { end: false });
    child.on('exit', (code, signal) => {
      this.out.write(`\n[chaos] ${this.spec.name} pid ${child.pid} exited (code ${code}, signal ${signal})\n`);
      if (!this.stopping && signal !== 'SIGKILL') this.unexpectedExits.push(`code ${code} signal ${signal}`);
      live.delete(child);
    });
    this.child = child;
    live.add(child);
  }

  async ready(timeoutMs = this.spec.readyTimeoutMs ?? 300_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`${this.spec.name} exited during start-up (see its log)`);
      const ok = await fetch(this.spec.healthUrl, { signal: AbortSignal.timeout(1_500) })
        .then((r) => r.ok)
        .catch(() => false);
      if (ok) return;
      await sleep(200);
    }
    throw new Error(`${this.spec.name} not ready after ${timeoutMs} ms (${this.spec.healthUrl})`);
  }

  /**
   * Spawn and wait until ready; a process that exits during start-up (a port not yet released, a
   * dependency restarting at the same moment) is started again, up to `attempts` times.
   */
  async start(extraEnv: Record<string, string> = {}, attempts = 3): Promise<void> {
    for (let i = 1; ; i++) {
      this.spawn(extraEnv);
      try {
        return await this.ready();
      } catch (e) {
        if (this.running || i >= attempts) throw e;
        this.out.write(`\n[chaos] ${this.spec.name} exited during start-up; starting it again (${i}/${attempts})\n`);
        await sleep(1_000);
      }
    }
  }

  /** `ready()` after a spawn, with the same retries as `start` when the process exits meanwhile. */
  async readyOrRestart(attempts = 3): Promise<void> {
    try {
      await this.ready();
    } catch (e) {
      if (this.running) throw e;
      await this.start({}, attempts);
    }
  }

  /** SIGKILL and wait for the exit: no shutdown hook, no final commit. */
  async kill(): Promise<void> {
    const c = this.child;
    if (!c || !this.running) return;
    this.kills++;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  }

  /** SIGTERM (graceful), SIGKILL after `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    const c = this.child;
    if (!c || !this.running) return;
    this.stopping = true;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    if ((await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)])) === false) {
      c.kill('SIGKILL');
      await exited;
    }
  }

  close(): void {
    this.out.end();
  }
}
