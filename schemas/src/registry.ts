import { execFileSync } from 'node:child_process';
import { diffSchemas, type FieldChange } from './diff.ts';
import { RegistryUnavailableError } from './errors.ts';
import { type AvroJson, parseSchemaFile, type SchemaFile } from './files.ts';
import { type LoadedSchemas, loadSchemas } from './load.ts';

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

export class RegistryHttpError extends Error {
  override name = 'RegistryHttpError';
  constructor(
    readonly status: number,
    readonly errorCode: number | undefined,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The few Confluent REST calls the CLI and the API's readiness need, over fetch: works against any
 * compatible registry. Unreachable, 5xx, 408 and 429 are a retriable RegistryUnavailableError; the
 * registry's own 4xx answers a RegistryHttpError with its Confluent error_code.
 */
export class RegistryRestClient {
  readonly url: string;
  private readonly timeoutMs: number;
  constructor(url: string, opts: { timeoutMs?: number } = {}) {
    this.url = url.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.url}${path}`, {
        method,
        headers: { Accept: CONTENT_TYPE, ...(body === undefined ? {} : { 'Content-Type': CONTENT_TYPE }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      throw new RegistryUnavailableError(`schema registry ${this.url} unreachable: ${(e as Error).message}`, '', {
        cause: e,
      });
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const err = json as { error_code?: number; message?: string } | undefined;
      if (res.status >= 500 || res.status === 408 || res.status === 429) {
        throw new RegistryUnavailableError(`${method} ${path}: ${res.status} ${err?.message ?? text}`.trim(), '');
      }
      throw new RegistryHttpError(
        res.status,
        err?.error_code,
        `${method} ${path}: ${res.status} ${err?.error_code ?? ''} ${err?.message ?? text}`.trim(),
      );
    }
    return json as T;
  }

  /** GET /schemas/ids/{id}: the schema text (and its type when not Avro). */
  schemaById(id: number): Promise<{ schema: string; schemaType?: string }> {
    return this.request('GET', `/schemas/ids/${id}`);
  }

  /** POST /subjects/{s}: the id of `schema` under `subject` (RegistryHttpError 404 when not registered). */
  async lookupId(subject: string, schema: string): Promise<number> {
    const r = await this.request<{ id: number }>('POST', `/subjects/${enc(subject)}`, { schema });
    return r.id;
  }

  /** Register (or find) `schema` under `subject`; the same schema twice gets the same id. */
  async register(subject: string, schema: string): Promise<number> {
    const r = await this.request<{ id: number }>('POST', `/subjects/${enc(subject)}/versions`, { schema });
    return r.id;
  }

  /** Latest registered version, or null when the subject does not exist. */
  async latest(subject: string): Promise<{ id: number; version: number; schema: string } | null> {
    try {
      return await this.request('GET', `/subjects/${enc(subject)}/versions/latest`);
    } catch (e) {
      if (e instanceof RegistryHttpError && e.status === 404) return null;
      throw e;
    }
  }

  /** Every subject (GET /subjects). */
  subjects(): Promise<string[]> {
    return this.request<string[]>('GET', '/subjects');
  }

  /** Delete a subject: soft, then permanently (Confluent requires the soft delete first). */
  async deleteSubject(subject: string, permanent = false): Promise<void> {
    await this.request('DELETE', `/subjects/${enc(subject)}`);
    if (permanent) await this.request('DELETE', `/subjects/${enc(subject)}?permanent=true`);
  }

  /** Compatibility level of the subject (falling back to the global one). */
  async compatibilityLevel(subject: string): Promise<string | undefined> {
    for (const path of [`/config/${enc(subject)}?defaultToGlobal=true`, '/config']) {
      try {
        const r = await this.request<{ compatibilityLevel?: string; compatibility?: string }>('GET', path);
        const level = r.compatibilityLevel ?? r.compatibility;
        if (level) return level;
      } catch (e) {
        if (!(e instanceof RegistryHttpError && e.status === 404)) throw e;
      }
    }
    return undefined;
  }

  /** POST /compatibility/subjects/{s}/versions/latest?verbose=true; null when the subject does not exist. */
  async checkLatest(subject: string, schema: string): Promise<{ is_compatible: boolean; messages?: string[] } | null> {
    try {
      return await this.request('POST', `/compatibility/subjects/${enc(subject)}/versions/latest?verbose=true`, {
        schema,
      });
    } catch (e) {
      // 40401 subject not found / 40402 version not found: nothing registered to be compatible with.
      if (e instanceof RegistryHttpError && e.status === 404) return null;
      throw e;
    }
  }
}

const enc = encodeURIComponent;

export interface RegisteredSubject {
  subject: string;
  record: string;
  id: number;
}

/** Register each record's .avsc under every subject that carries it. */
export async function registerAll(
  client: RegistryRestClient,
  opts: { schemas?: LoadedSchemas; files?: Record<string, SchemaFile> } = {},
): Promise<{ registered: RegisteredSubject[]; skipped: { subject: string; record: string; reason: string }[] }> {
  const schemas = opts.schemas ?? loadSchemas();
  const files: Record<string, SchemaFile> = opts.files ?? schemas.files;
  const registered: RegisteredSubject[] = [];
  const skipped: { subject: string; record: string; reason: string }[] = [];
  for (const b of schemas.subjects) {
    const file = files[b.record];
    if (!file) {
      skipped.push({ subject: b.subject, record: b.record, reason: 'no .avsc for this record' });
      continue;
    }
    registered.push({ subject: b.subject, record: b.record, id: await client.register(b.subject, file.text) });
  }
  return { registered, skipped };
}

export interface CompatibilityResult {
  subject: string;
  record: string;
  status: 'compatible' | 'incompatible' | 'new-subject';
  level?: string;
  registeredVersion?: number;
  /** What the registry said (verbose messages). */
  messages: string[];
  /** Field-level changes against the latest registered version; `offending` ones break the level. */
  changes: (FieldChange & { offending: boolean })[];
}

/**
 * Check every local schema against what is registered under its subjects, with the registry's
 * own compatibility endpoint (its verdict is final), and name the fields that changed.
 */
export async function checkCompatibility(
  client: RegistryRestClient,
  opts: { schemas?: LoadedSchemas } = {},
): Promise<CompatibilityResult[]> {
  const schemas = opts.schemas ?? loadSchemas();
  const results: CompatibilityResult[] = [];
  for (const b of schemas.subjects) {
    const file = schemas.files[b.record];
    // Registries differ on a subject with no versions (404 or "compatible"): ask for it first.
    const latest = await client.latest(b.subject);
    const verdict = latest ? await client.checkLatest(b.subject, file.text) : null;
    if (!latest || !verdict) {
      results.push({ subject: b.subject, record: b.record, status: 'new-subject', messages: [], changes: [] });
      continue;
    }
    const level = (await client.compatibilityLevel(b.subject)) ?? 'BACKWARD';
    const changes = diffSchemas(JSON.parse(latest.schema) as AvroJson, file.json as AvroJson);
    results.push({
      subject: b.subject,
      record: b.record,
      status: verdict.is_compatible ? 'compatible' : 'incompatible',
      level,
      registeredVersion: latest.version,
      messages: (verdict.messages ?? []).map((m) => (typeof m === 'string' ? m : JSON.stringify(m))),
      changes: changes.map((c) => ({ ...c, offending: isOffending(c, level) })),
    });
  }
  return results;
}

/** Whether a field change breaks the given compatibility level by Avro's resolution rules (approximate, for naming only). */
function isOffending(c: FieldChange, level: string): boolean {
  const backward = /BACKWARD|FULL/.test(level);
  const forward = /FORWARD|FULL/.test(level);
  if (level === 'NONE') return false;
  if (c.kind === 'added') return backward && !c.hasDefault; // new reader, old data: needs a default
  if (c.kind === 'removed') return forward && !c.hasDefault; // old reader, new data: needs the old default
  return !isPromotion(c.from, c.to, backward, forward);
}

function isPromotion(from: string | undefined, to: string | undefined, backward: boolean, forward: boolean): boolean {
  const widen: Record<string, string[]> = {
    int: ['long', 'float', 'double'],
    long: ['float', 'double'],
    float: ['double'],
    string: ['bytes'],
    bytes: ['string'],
  };
  const reads = (reader?: string, writer?: string) => !!writer && !!reader && (widen[writer] ?? []).includes(reader);
  const unionWidening = (narrow?: string, wide?: string) =>
    !!narrow && !!wide && narrow.split(' | ').every((b) => wide.split(' | ').includes(b));
  const okBackward = reads(to, from) || unionWidening(from, to);
  const okForward = reads(from, to) || unionWidening(to, from);
  return (!backward || okBackward) && (!forward || okForward);
}

/** The .avsc files of schemas/ as they were at a git ref (`git show <ref>:schemas/X.avsc`). */
export function schemaFilesAtRef(ref: string, cwd: string): Record<string, SchemaFile> {
  const git = (...args: string[]) =>
    execFileSync('git', args, { cwd, encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
  const root = git('rev-parse', '--show-toplevel').trim();
  git('rev-parse', '--verify', '--quiet', `${ref}^{commit}`); // an unknown ref is an error, not an empty seed
  let listing: string;
  try {
    listing = git('-C', root, 'ls-tree', '--full-tree', '--name-only', `${ref}:schemas`);
  } catch {
    return {}; // no schemas/ at that ref (before the first schema): nothing to seed
  }
  const names = listing.split('\n').filter((n) => n.endsWith('.avsc'));
  const out: Record<string, SchemaFile> = {};
  for (const n of names) {
    const f = parseSchemaFile(`${ref}:schemas/${n}`, git('-C', root, 'show', `${ref}:schemas/${n}`));
    out[f.name] = f;
  }
  return out;
}

/** Register the schemas as they were at `ref` under today's subjects (CI seeds a registry with the previous commit's schemas). */
export async function seedFromGitRef(
  client: RegistryRestClient,
  ref: string,
  opts: { cwd: string; schemas?: LoadedSchemas },
) {
  const files = schemaFilesAtRef(ref, opts.cwd);
  return registerAll(client, { schemas: opts.schemas, files });
}
