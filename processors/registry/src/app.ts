import { loadConfig } from '@feedlog/common/config';
import { jsonDepth } from '@feedlog/common/json-depth';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyServerOptions,
  LogController,
} from 'fastify';
import pg from 'pg';
import { type RegistryAuth, registryAuthHook } from './auth.ts';
import { parseCompatibilityLevel } from './compatibility.ts';
import { Errors, RegistryError } from './errors.ts';
import { migrate } from './migrate.ts';
import {
  DEFAULT_SCHEMA_LIMITS,
  MODES,
  type Mode,
  RegistryService,
  type SchemaLimits,
  type SchemaRequest,
} from './service.ts';

export const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';
const REQUEST_TYPES = ['application/vnd.schemaregistry.v1+json', 'application/vnd.schemaregistry+json'];

export interface RegistryAppOptions {
  /** A pool to use (not closed by the app); otherwise one is created from databaseUrl and closed with the app. */
  pool?: pg.Pool;
  databaseUrl?: string;
  /** PostgreSQL schema holding the registry's tables (default `registry`). */
  pgSchema?: string;
  /** Apply the registry's migrations before serving (default true). */
  migrate?: boolean;
  logger?: FastifyServerOptions['logger'];
  /** Log every request (default false: the registry is on the hot path of every client cache miss). */
  logRequests?: boolean;
  /** bytes of one schema string (default 1 MiB); the body limit follows from it */
  maxSchemaBytes?: number;
  /** JSON nesting of one schema (default 128) */
  maxSchemaDepth?: number;
  /** credentials writes need (basic users and/or bearer tokens); absent: writes are open as before */
  auth?: RegistryAuth;
  /** served on GET /metrics (a prom-client Registry: the process's telemetry) */
  metrics?: { contentType: string; metrics(): Promise<string> };
}

declare module 'fastify' {
  interface FastifyInstance {
    registry: RegistryService;
  }
}

const bool = (v: unknown): boolean => v === true || (typeof v === 'string' && v.toLowerCase() === 'true');

type Q = Record<string, string | undefined>;
type P = { subject: string; version: string; id: string };

function schemaId(raw: string): number {
  if (!/^\d{1,10}$/.test(raw) || Number(raw) > 2 ** 31 - 1) throw Errors.routeNotFound();
  return Number(raw);
}

function body(b: unknown): SchemaRequest {
  if (b === null || typeof b !== 'object' || Array.isArray(b))
    throw Errors.invalidSchema(': request body must be an object');
  return b as SchemaRequest;
}

/** PostgreSQL and connection failures become Confluent's 50001 store error. */
function isStoreError(e: unknown): boolean {
  const err = e as { code?: unknown; severity?: unknown };
  if (typeof err?.severity === 'string') return true; // pg DatabaseError
  return typeof err?.code === 'string' && /^(E[A-Z]+|57P0\d|08\w{3})$/.test(err.code);
}

export async function buildRegistryApp(opts: RegistryAppOptions = {}): Promise<FastifyInstance> {
  const ownPool = !opts.pool;
  const pool =
    opts.pool ??
    new pg.Pool({
      connectionString: opts.databaseUrl ?? loadConfig().postgres.url,
      max: 10,
      application_name: 'feedlog-registry',
    });
  const pgSchema = opts.pgSchema ?? 'registry';
  if (opts.migrate !== false) {
    try {
      await migrate(pool, pgSchema);
    } catch (e) {
      if (ownPool) await pool.end();
      throw e;
    }
  }
  const limits: SchemaLimits = {
    maxSchemaBytes: opts.maxSchemaBytes ?? DEFAULT_SCHEMA_LIMITS.maxSchemaBytes,
    maxSchemaDepth: opts.maxSchemaDepth ?? DEFAULT_SCHEMA_LIMITS.maxSchemaDepth,
  };
  const app = Fastify({
    logger: opts.logger ?? false,
    logController: new LogController({ disableRequestLogging: !opts.logRequests }),
    // a schema travels as a JSON string: escaping can double it, plus references and envelope
    bodyLimit: limits.maxSchemaBytes * 2 + 64 * 1024,
  });
  const svc = new RegistryService(pool, pgSchema, limits);
  app.decorate('registry', svc);
  if (ownPool) app.addHook('onClose', async () => pool.end());

  // Confluent accepts its own media types, plain JSON and anything else that holds JSON.
  // The envelope ({schema, references, …}) nests a few levels; bound it before parsing.
  const parse = app.getDefaultJsonParser('ignore', 'ignore');
  const json: typeof parse = (req, text, done) => {
    if (jsonDepth(String(text), 16) < 0) {
      done(Errors.badRequest('request body nested deeper than 16 levels'), undefined);
      return;
    }
    parse(req, text, done);
  };
  app.addContentTypeParser(REQUEST_TYPES, { parseAs: 'string' }, json);
  app.addContentTypeParser('*', { parseAs: 'string' }, json);
  if (opts.auth) app.addHook('onRequest', registryAuthHook(opts.auth));

  app.addHook('onSend', async (_req, reply, payload) => {
    const ct = String(reply.getHeader('content-type') ?? '');
    if (ct === '' || ct.startsWith('application/json')) reply.header('content-type', CONTENT_TYPE);
    return payload;
  });

  app.setNotFoundHandler((_req, reply) => {
    const e = Errors.routeNotFound();
    reply.code(e.status).send(e.toJSON());
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    let e: RegistryError;
    if (err instanceof RegistryError) e = err;
    else if (/^22/.test(String((err as { code?: unknown }).code ?? '')) && isStoreError(err)) {
      // data exception: a value PostgreSQL cannot hold came from the client and got past validation
      req.log.warn({ sqlstate: err.code }, 'PostgreSQL refused a request value');
      e = Errors.badRequest('a value in the request is out of range or malformed');
    } else if (isStoreError(err)) {
      // the cause goes to the log only: PostgreSQL's messages are not for clients
      req.log.error({ err }, 'store error');
      e = Errors.store('Error in the backend data store');
    } else if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      e = new RegistryError(err.statusCode, err.statusCode, err.message); // malformed JSON, body too large…
    } else {
      req.log.error({ err }, 'unexpected error');
      e = new RegistryError(500, 500, err.message || 'Internal Server Error');
    }
    reply.code(e.status).send(e.toJSON());
  });

  const rawSchema = (reply: FastifyReply, schema: string) => reply.type(CONTENT_TYPE).send(schema);

  app.get('/', async () => ({}));
  app.get('/healthz', async () => {
    await pool.query('SELECT 1');
    return { status: 'ok' };
  });
  // readiness: the store answers (what `feedlog up`/`status` and an orchestrator wait on)
  app.get('/readyz', async (_req, reply) => {
    try {
      await pool.query('SELECT 1');
      return { status: 'ready' };
    } catch (e) {
      reply.log.warn({ err: e }, 'readiness: store unreachable');
      return reply.code(503).send({ status: 'unavailable', error: 'the backend data store does not answer' });
    }
  });
  const metrics = opts.metrics;
  if (metrics)
    app.get('/metrics', async (_req, reply) => reply.type(metrics.contentType).send(await metrics.metrics()));
  app.get('/schemas/types', async () => ['AVRO']);

  app.get<{ Params: P }>('/schemas/ids/:id', async (req) => svc.schemaById(schemaId(req.params.id)));
  app.get<{ Params: P }>('/schemas/ids/:id/schema', async (req, reply) =>
    rawSchema(reply, (await svc.schemaById(schemaId(req.params.id))).schema),
  );
  app.get<{ Params: P; Querystring: Q }>('/schemas/ids/:id/subjects', async (req) =>
    svc.subjectsOfId(schemaId(req.params.id), bool(req.query.deleted)),
  );
  app.get<{ Params: P; Querystring: Q }>('/schemas/ids/:id/versions', async (req) =>
    svc.versionsOfId(schemaId(req.params.id), bool(req.query.deleted)),
  );

  app.get<{ Querystring: Q }>('/subjects', async (req) =>
    svc.listSubjects(bool(req.query.deleted), req.query.subjectPrefix ?? ''),
  );
  app.post<{ Params: P; Querystring: Q }>('/subjects/:subject', async (req) =>
    svc.lookup(req.params.subject, body(req.body), bool(req.query.deleted)),
  );
  app.delete<{ Params: P; Querystring: Q }>('/subjects/:subject', async (req) =>
    svc.deleteSubject(req.params.subject, bool(req.query.permanent)),
  );
  app.get<{ Params: P; Querystring: Q }>('/subjects/:subject/versions', async (req) => {
    const versions = await svc.listVersions(req.params.subject, bool(req.query.deleted) || bool(req.query.deletedOnly));
    if (!bool(req.query.deletedOnly)) return versions;
    const live = new Set(await svc.listVersions(req.params.subject, false).catch(() => [] as number[]));
    return versions.filter((v) => !live.has(v));
  });
  // `normalize` is accepted; our canonical form is already what Confluent compares.
  app.post<{ Params: P; Querystring: Q }>('/subjects/:subject/versions', async (req) =>
    svc.register(req.params.subject, body(req.body)),
  );
  app.get<{ Params: P; Querystring: Q }>('/subjects/:subject/versions/:version', async (req) =>
    svc.getVersion(req.params.subject, req.params.version, bool(req.query.deleted)),
  );
  app.get<{ Params: P; Querystring: Q }>('/subjects/:subject/versions/:version/schema', async (req, reply) =>
    rawSchema(reply, (await svc.getVersion(req.params.subject, req.params.version, bool(req.query.deleted))).schema),
  );
  app.get<{ Params: P }>('/subjects/:subject/versions/:version/referencedby', async (req) =>
    svc.referencedBy(req.params.subject, req.params.version),
  );
  app.delete<{ Params: P; Querystring: Q }>('/subjects/:subject/versions/:version', async (req) =>
    svc.deleteVersion(req.params.subject, req.params.version, bool(req.query.permanent)),
  );

  const compat = async (subject: string, version: string | undefined, b: unknown, verbose: boolean) => {
    const r = await svc.testCompatibility(subject, version, body(b));
    return verbose ? r : { is_compatible: r.is_compatible };
  };
  app.post<{ Params: P; Querystring: Q }>('/compatibility/subjects/:subject/versions/:version', async (req) =>
    compat(req.params.subject, req.params.version, req.body, bool(req.query.verbose)),
  );
  app.post<{ Params: P; Querystring: Q }>('/compatibility/subjects/:subject/versions', async (req) =>
    compat(req.params.subject, undefined, req.body, bool(req.query.verbose)),
  );

  const levelFrom = (b: unknown) => {
    const o = (b ?? {}) as Record<string, unknown>;
    const level = parseCompatibilityLevel(o.compatibility ?? o.compatibilityLevel);
    if (!level) throw Errors.invalidCompatibility();
    return level;
  };
  app.get('/config', async () => ({ compatibilityLevel: await svc.getGlobalCompatibility() }));
  app.put('/config', async (req) => {
    const level = levelFrom(req.body);
    await svc.setCompatibility(null, level);
    return { compatibility: level };
  });
  app.delete('/config', async () => {
    const previous = (await svc.deleteCompatibility(null)) ?? (await svc.getGlobalCompatibility());
    return { compatibilityLevel: previous };
  });
  app.get<{ Params: P; Querystring: Q }>('/config/:subject', async (req) => {
    const level = await svc.getSubjectCompatibility(req.params.subject);
    if (level) return { compatibilityLevel: level };
    if (bool(req.query.defaultToGlobal)) return { compatibilityLevel: await svc.getGlobalCompatibility() };
    throw Errors.subjectCompatibilityNotConfigured(req.params.subject);
  });
  app.put<{ Params: P }>('/config/:subject', async (req) => {
    const level = levelFrom(req.body);
    await svc.setCompatibility(req.params.subject, level);
    return { compatibility: level };
  });
  app.delete<{ Params: P }>('/config/:subject', async (req) => {
    const previous = await svc.deleteCompatibility(req.params.subject);
    if (!previous) throw Errors.subjectNotFound(req.params.subject);
    return { compatibilityLevel: previous };
  });

  const modeFrom = (b: unknown): Mode => {
    const raw = ((b ?? {}) as Record<string, unknown>).mode;
    const mode = typeof raw === 'string' ? raw.toUpperCase() : raw;
    if (!MODES.includes(mode as Mode)) throw Errors.invalidMode(raw);
    return mode as Mode;
  };
  app.get('/mode', async () => ({ mode: await svc.getMode() }));
  app.put<{ Querystring: Q }>('/mode', async (req) => {
    const mode = modeFrom(req.body);
    await svc.setMode(null, mode, bool(req.query.force));
    return { mode };
  });
  app.get<{ Params: P; Querystring: Q }>('/mode/:subject', async (req) => {
    const mode = await svc.getSubjectMode(req.params.subject);
    if (mode) return { mode };
    if (bool(req.query.defaultToGlobal)) return { mode: await svc.getMode() };
    throw Errors.subjectModeNotConfigured(req.params.subject);
  });
  app.put<{ Params: P; Querystring: Q }>('/mode/:subject', async (req) => {
    const mode = modeFrom(req.body);
    await svc.setMode(req.params.subject, mode, bool(req.query.force));
    return { mode };
  });
  app.delete<{ Params: P }>('/mode/:subject', async (req) => {
    const previous = await svc.deleteSubjectMode(req.params.subject);
    if (!previous) throw Errors.subjectNotFound(req.params.subject);
    return { mode: previous };
  });

  return app;
}
