import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { networkInterfaces } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot } from '@feedlog/common';

/** A free loopback port (closed again: the caller's process binds it). */
export async function freePort(): Promise<number> {
  const srv = createServer().listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const addr = srv.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** GET a loopback URL: status and body, or undefined when nothing answers. */
export async function httpGet(url: string, timeoutMs = 2_000): Promise<{ status: number; body: string } | undefined> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: r.status, body: await r.text() };
  } catch {
    return undefined;
  }
}

/** This machine's first non-loopback IPv4 address, if it has one (to show a port is not reachable there). */
export function externalAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return undefined;
}

export interface Spawned {
  child: ChildProcess;
  /** stdout and stderr so far (the last 20 kB) */
  output(): string;
  /** exit code (null when killed by a signal) and the signal */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** A TypeScript entry of the repository run under tsx as a child of the test, output captured. */
export function spawnTs(entry: string, env: NodeJS.ProcessEnv): Spawned {
  const root = repoRoot();
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  return { child, output: () => out, exited };
}

/** Wait until `url` answers 200; fails at once, with the output, when the process exits first. */
export async function waitHttpOk(s: Spawned, url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (s.child.exitCode !== null) throw new Error(`exited ${s.child.exitCode} before ${url} answered:\n${s.output()}`);
    if ((await httpGet(url))?.status === 200) return;
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms:\n${s.output()}`);
    await sleep(200);
  }
}
