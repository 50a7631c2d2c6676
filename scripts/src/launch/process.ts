import { type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LaunchError } from './errors.ts';

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return '';
  }
}

export type PidState = { state: 'running'; pid: number } | { state: 'stale'; pid: number } | { state: 'absent' };

/**
 * Reads a PID file and checks that the process is alive AND still the one we started (its command
 * line contains `marker`), so a recycled PID is not mistaken for our broker.
 */
export function readPid(file: string, marker: string): PidState {
  if (!existsSync(file)) return { state: 'absent' };
  const pid = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
  if (!Number.isInteger(pid) || pid <= 0) return { state: 'stale', pid: 0 };
  if (isAlive(pid) && cmdline(pid).includes(marker)) return { state: 'running', pid };
  return { state: 'stale', pid };
}

export function writePid(file: string, pid: number): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${pid}\n`);
}

export function removePid(file: string): void {
  rmSync(file, { force: true });
}

/** Starts a long-running process detached from us, its output appended to `logFile`. */
export function spawnDetached(cmd: string, args: string[], logFile: string, opts: SpawnOptions = {}): number {
  mkdirSync(dirname(logFile), { recursive: true });
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(cmd, args, { ...opts, detached: true, stdio: ['ignore', fd, fd] });
    if (child.pid === undefined) throw new LaunchError(`could not start ${cmd}`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** SIGTERM, wait up to `graceMs`, then SIGKILL. Resolves once the process is gone. */
export async function stopPid(pid: number, graceMs = 20_000): Promise<'terminated' | 'killed' | 'not-running'> {
  if (!isAlive(pid)) return 'not-running';
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return 'terminated';
    await sleep(100);
  }
  process.kill(pid, 'SIGKILL');
  while (isAlive(pid)) await sleep(50);
  return 'killed';
}

/** Who listens on a TCP port, from /proc (no extra tools needed). */
export function portOwner(port: number): { pid: number; command: string } | undefined {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(table)) continue;
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      const local = cols[1];
      if (!local || cols[3] !== '0A') continue; // 0A = LISTEN
      if (Number.parseInt(local.split(':')[1] ?? '', 16) === port && cols[9]) inodes.add(cols[9]);
    }
  }
  if (inodes.size === 0) return undefined;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${entry}/fd/${fd}`));
        if (m?.[1] && inodes.has(m[1])) return { pid: Number(entry), command: cmdline(Number(entry)) };
      } catch {}
    }
  }
  return { pid: 0, command: '(a process this user cannot inspect)' };
}

export async function portFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

/** Throws a LaunchError naming the process that holds `port`, if any. */
export async function assertPortFree(port: number, what: string): Promise<void> {
  if (await portFree(port)) return;
  const owner = portOwner(port);
  const who = owner ? `pid ${owner.pid}: ${owner.command.slice(0, 160)}` : 'an unknown process';
  throw new LaunchError(`port ${port} needed by ${what} is already in use by ${who}`, {
    hint: `stop that process, or choose another port (see README, "Configuration")`,
  });
}

export function commandExists(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  { timeoutMs, intervalMs = 250, onTick }: { timeoutMs: number; intervalMs?: number; onTick?: () => void },
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    onTick?.();
    await sleep(intervalMs);
  }
  throw new LaunchError(`${what} did not become ready within ${Math.round(timeoutMs / 1000)} s`, {
    cause: last,
    retriable: true,
  });
}
