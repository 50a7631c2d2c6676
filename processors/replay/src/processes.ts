import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type StageName, stageEntry, stageNameFor } from './types.ts';

/**
 * A generation's stage process, started the way the launcher (scripts/src/launch/process.ts)
 * starts the stack's: detached, output appended to `<home>/logs/<name>.log`, PID in
 * `<home>/run/<name>.pid` where name = `<stage>-g<N>` — so `feedlog status` and `feedlog down`
 * list and stop them beside the stack's own. (A small copy of the launcher's helpers: the API
 * uses this package, and the scripts package depends on the API.)
 */
export interface ProcessPlace {
  home: string;
  root: string;
  prefix: string;
}

export const processName = (stage: StageName, generation: number, prefix = '') =>
  `${stageNameFor(stage, prefix)}-g${generation}`;
export const pidFileOf = (p: ProcessPlace, name: string) => join(p.home, 'run', `${name}.pid`);
export const logFileOf = (p: ProcessPlace, name: string) => join(p.home, 'logs', `${name}.log`);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const cmdline = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
};

/** The PID of a running process of ours (alive and running `stage`'s entry: a recycled PID is not ours). */
export function runningPid(p: ProcessPlace, stage: StageName, generation: number): number | undefined {
  const file = pidFileOf(p, processName(stage, generation, p.prefix));
  if (!existsSync(file)) return undefined;
  const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
  return Number.isInteger(pid) && pid > 0 && alive(pid) && cmdline(pid).includes(stageEntry[stage]) ? pid : undefined;
}

export function startStageProcess(
  p: ProcessPlace,
  stage: StageName,
  generation: number,
  env: Record<string, string>,
): number {
  const name = processName(stage, generation, p.prefix);
  const log = logFileOf(p, name);
  mkdirSync(join(p.home, 'logs'), { recursive: true });
  mkdirSync(join(p.home, 'run'), { recursive: true });
  const tsx = createRequire(join(p.root, 'package.json')).resolve('tsx');
  const fd = openSync(log, 'a');
  try {
    const child = spawn(process.execPath, ['--import', tsx, join(p.root, stageEntry[stage])], {
      cwd: p.root,
      env: { ...process.env, ...env, FEEDLOG_ROOT: p.root, FEEDLOG_HOME: p.home },
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    if (child.pid === undefined) throw new Error(`could not start ${name}`);
    child.unref();
    writeFileSync(pidFileOf(p, name), `${child.pid}\n`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; removes the PID file. */
export async function stopStageProcess(
  p: ProcessPlace,
  stage: StageName,
  generation: number,
  graceMs = 15_000,
): Promise<'terminated' | 'killed' | 'not-running'> {
  const pid = runningPid(p, stage, generation);
  rmSync(pidFileOf(p, processName(stage, generation, p.prefix)), { force: true });
  if (pid === undefined) return 'not-running';
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!alive(pid)) return 'terminated';
    await sleep(100);
  }
  process.kill(pid, 'SIGKILL');
  while (alive(pid)) await sleep(50);
  return 'killed';
}

/** Names of every generation process with a PID file under `home` (`<stage>-g<N>`). */
export function generationProcessNames(home: string): string[] {
  const dir = join(home, 'run');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /-g\d+\.pid$/.test(f))
    .map((f) => f.slice(0, -'.pid'.length));
}

/**
 * After a flip: the serving generation's process takes the stage's own PID file (`<stage>.pid`,
 * the launcher's name), after the process that ran under that name (the retired generation) is
 * stopped — so `feedlog up` finds the stage running, and `status`/`down` treat it as the stage.
 * Idempotent: without the generation's PID file there is nothing left to do.
 */
export async function adoptAsStage(p: ProcessPlace, stage: StageName, generation: number): Promise<boolean> {
  const genFile = pidFileOf(p, processName(stage, generation, p.prefix));
  if (!existsSync(genFile)) return false;
  const stageFile = pidFileOf(p, stageNameFor(stage, p.prefix));
  if (existsSync(stageFile)) await stopPidFile(stageFile, stage);
  renameSync(genFile, stageFile);
  return true;
}

async function stopPidFile(file: string, stage: StageName | undefined, graceMs = 15_000): Promise<string> {
  const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
  rmSync(file, { force: true });
  const marker = stage ? stageEntry[stage] : '/src/main.ts';
  if (!(Number.isInteger(pid) && pid > 0 && alive(pid) && cmdline(pid).includes(marker))) return 'not-running';
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await sleep(100);
  if (!alive(pid)) return 'terminated';
  process.kill(pid, 'SIGKILL');
  while (alive(pid)) await sleep(50);
  return 'killed';
}

/** Stop every stage process with a PID file under `home` (a test's or a deployment's teardown). */
export async function stopStageProcesses(home: string): Promise<Record<string, string>> {
  const dir = join(home, 'run');
  if (!existsSync(dir)) return {};
  const out: Record<string, string> = {};
  await Promise.all(
    readdirSync(dir)
      .filter((f) => f.endsWith('.pid'))
      .map(async (f) => {
        out[f.slice(0, -'.pid'.length)] = await stopPidFile(join(dir, f), undefined);
      }),
  );
  return out;
}
