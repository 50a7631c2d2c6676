// Debian's redis-server for the comparison: started by the harness on loopback, its own port and
// directory, no persistence (the stages are what restarts, not Redis), stopped afterwards.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { LaunchError } from '@feedlog/scripts/launch/errors';
import { Redis } from 'ioredis';

export interface RedisServer {
  port: number;
  pid: number;
  version: string;
  stop(): Promise<void>;
}

export async function startRedis(port: number, dir: string): Promise<RedisServer> {
  const v = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (v.error || v.status !== 0) {
    throw new LaunchError('redis-server is not installed', {
      hint: 'apt-get install redis-server (Debian), then run again',
    });
  }
  mkdirSync(dir, { recursive: true });
  const child: ChildProcess = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const probe = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  for (let i = 0; ; i++) {
    try {
      await probe.connect();
      await probe.ping();
      break;
    } catch {
      if (i > 50 || child.exitCode !== null)
        throw new LaunchError(`redis-server did not start on 127.0.0.1:${port}`, {
          hint: 'is the port in use? pass --redis-port',
        });
      probe.disconnect();
      await sleep(100);
    }
  }
  probe.disconnect();
  return {
    port,
    pid: child.pid ?? 0,
    version: /v=(\S+)/.exec(v.stdout)?.[1] ?? v.stdout.trim(),
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
