import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { LaunchError } from './errors.ts';
import { commandExists, waitFor } from './process.ts';

export interface PostgresSpec {
  /** Preferred data directory; moved under /var/tmp when the postgres user cannot reach it. */
  dir: string;
  port: number;
}

const isRoot = process.getuid?.() === 0;

/** The newest Debian PostgreSQL server binaries, if installed. */
export function pgBinDir(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(base, versions[0], 'bin') : undefined;
}

/** Installs Debian's PostgreSQL server when it is missing (root only), returns its bin dir. */
export function ensurePostgresInstalled(log: (s: string) => void): string {
  const found = pgBinDir();
  if (found) return found;
  if (!isRoot || !commandExists('apt-get')) {
    throw new LaunchError('PostgreSQL server binaries are not installed', {
      hint: 'as root: apt-get update && apt-get install -y postgresql',
    });
  }
  log('installing PostgreSQL from Debian packages (apt-get, once)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [
    ['update', '-qq'],
    ['install', '-y', '-qq', 'postgresql'],
  ]) {
    const r = spawnSync('apt-get', args, { env, encoding: 'utf8' });
    if (r.status !== 0) {
      throw new LaunchError(`apt-get ${args.join(' ')} failed:\n${(r.stderr || r.stdout).slice(-1500)}`, {
        hint: 'check that the Debian package mirror is reachable',
      });
    }
  }
  const bin = pgBinDir();
  if (!bin) throw new LaunchError('apt-get installed postgresql but no initdb was found under /usr/lib/postgresql');
  return bin;
}

/** Runs a PostgreSQL tool as the `postgres` user when we are root (PostgreSQL refuses to run as root). */
function pgTool(bin: string, tool: string, args: string[]) {
  const cmd = join(bin, tool);
  const r = isRoot
    ? spawnSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { encoding: 'utf8' })
    : spawnSync(cmd, args, { encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

function reachableByPostgres(dir: string): boolean {
  if (!isRoot) return true;
  let probe = dir;
  while (!existsSync(probe)) probe = dirname(probe);
  return spawnSync('runuser', ['-u', 'postgres', '--', 'test', '-x', probe], { stdio: 'ignore' }).status === 0;
}

/** The data directory actually used: `spec.dir`, or a stable fallback the postgres user can reach. */
export function postgresDataDir(spec: PostgresSpec): string {
  if (reachableByPostgres(spec.dir)) return spec.dir;
  const h = createHash('sha1').update(spec.dir).digest('hex').slice(0, 10);
  return join('/var/tmp', `feedlog-postgres-${h}`);
}

export function postgresPid(dataDir: string): number | undefined {
  const f = join(dataDir, 'postmaster.pid');
  if (!existsSync(f)) return undefined;
  const pid = Number.parseInt(readFileSync(f, 'utf8').split('\n')[0] ?? '', 10);
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

export function databaseUrl(port: number): string {
  return `postgres://feedlog@127.0.0.1:${port}/feedlog`;
}

/** initdb (once), start on 127.0.0.1:<port>, create role + database `feedlog`. Idempotent. */
export async function startPostgres(spec: PostgresSpec, log: (s: string) => void) {
  const bin = ensurePostgresInstalled(log);
  const dataDir = postgresDataDir(spec);
  if (dataDir !== spec.dir) log(`postgres user cannot reach ${spec.dir}; using ${dataDir}`);
  if (postgresPid(dataDir)) return { dataDir, result: 'already-running' as const, url: databaseUrl(spec.port) };

  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    rmSync(dataDir, { recursive: true, force: true });
    mkdirSync(dirname(dataDir), { recursive: true });
    mkdirSync(dataDir, { mode: 0o700 });
    if (isRoot) {
      const { uid, gid } = postgresIds();
      chownSync(dataDir, uid, gid);
    }
    log(`initdb ${dataDir}`);
    // Loopback-only trust auth: a development cluster with no password to leak. Production points
    // DATABASE_URL at a managed server instead.
    const r = pgTool(bin, 'initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-locale']);
    if (!r.ok) throw new LaunchError(`initdb failed:\n${r.out.slice(-1500)}`);
    const conf = join(dataDir, 'postgresql.conf');
    writeFileSync(
      conf,
      `${readFileSync(conf, 'utf8')}
# feedlog local cluster
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 300
shared_buffers = 256MB
`,
    );
  } else if (existsSync(join(dataDir, 'postmaster.pid'))) {
    log('removing stale postmaster.pid (the server is not running)');
    rmSync(join(dataDir, 'postmaster.pid'), { force: true });
  }
  const logFile = join(dataDir, 'server.log');
  const r = pgTool(bin, 'pg_ctl', ['-D', dataDir, '-l', logFile, '-o', `-p ${spec.port}`, '-w', '-t', '60', 'start']);
  if (!r.ok) {
    const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-10).join('\n') : '';
    throw new LaunchError(`PostgreSQL failed to start on port ${spec.port}:\n${r.out}\n${tail}`);
  }
  await waitFor('PostgreSQL', () => query(spec.port, 'postgres', 'postgres', 'SELECT 1').then(() => true), {
    timeoutMs: 30_000,
  });
  await bootstrapDatabase(spec.port);
  return { dataDir, result: 'started' as const, url: databaseUrl(spec.port) };
}

function postgresIds(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (!uid || !gid)
    throw new LaunchError('the postgres system user does not exist (is the postgresql package installed?)');
  return { uid: Number(uid), gid: Number(gid) };
}

async function query(port: number, user: string, database: string, sql: string, params: unknown[] = []) {
  const c = new pg.Client({ host: '127.0.0.1', port, user, database, connectionTimeoutMillis: 2_000 });
  await c.connect();
  try {
    return await c.query(sql, params);
  } finally {
    await c.end();
  }
}

async function bootstrapDatabase(port: number): Promise<void> {
  const role = await query(port, 'postgres', 'postgres', 'SELECT 1 FROM pg_roles WHERE rolname = $1', ['feedlog']);
  // Identifiers cannot be bound as parameters; these are fixed literals, never user input.
  if (role.rowCount === 0) await query(port, 'postgres', 'postgres', 'CREATE ROLE feedlog LOGIN SUPERUSER');
  const db = await query(port, 'postgres', 'postgres', 'SELECT 1 FROM pg_database WHERE datname = $1', ['feedlog']);
  if (db.rowCount === 0) await query(port, 'postgres', 'postgres', 'CREATE DATABASE feedlog OWNER feedlog');
}

export async function stopPostgres(spec: PostgresSpec): Promise<'stopped' | 'not-running'> {
  const dataDir = postgresDataDir(spec);
  if (!postgresPid(dataDir)) return 'not-running';
  const bin = pgBinDir();
  if (!bin) return 'not-running';
  const r = pgTool(bin, 'pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', '-t', '60', 'stop']);
  if (!r.ok) throw new LaunchError(`pg_ctl stop failed:\n${r.out}`);
  return 'stopped';
}

export async function postgresAnswers(url: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_500 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}
