import { loadConfig } from '@feedlog/common';
import avro from 'avsc';
import {
  IncompatibleSchemaError,
  PayloadDecodeError,
  RecordEncodeError,
  RegistryUnavailableError,
  SchemaNotRegisteredError,
  UnknownSchemaIdError,
} from './errors.ts';
import type { RecordName, RecordTypes } from './generated.ts';
import { type LoadedSchemas, loadSchemas } from './load.ts';
import { RegistryHttpError, RegistryRestClient } from './registry.ts';
import { readFrame, writeFrameWith } from './wire.ts';

export interface SerdeOptions {
  /** Registry base URL (default: SCHEMA_REGISTRY_URL via loadConfig()). Ignored when `registry` is given. */
  registryUrl?: string;
  /** A shared client. */
  registry?: RegistryRestClient;
  /** Register the local schema under the subject on first encode (default false: look its id up). */
  autoRegister?: boolean;
  /** Topic-name prefix of the declarations (tests). */
  prefix?: string;
  schemas?: LoadedSchemas;
}

/** The registry client for `url` (default: SCHEMA_REGISTRY_URL): feedlog's one REST client. */
export function createRegistryClient(url: string = loadConfig().registry.url): RegistryRestClient {
  return new RegistryRestClient(url);
}

/** A RegistryUnavailableError named after this topic, or undefined when the registry answered. */
function unavailable(e: unknown, topic: string, what: string): RegistryUnavailableError | undefined {
  if (!(e instanceof RegistryUnavailableError)) return undefined;
  return new RegistryUnavailableError(`schema registry unavailable while ${what}: ${e.message}`, topic, { cause: e });
}

/**
 * Encodes and decodes one topic's values in the Confluent wire format (wire.ts) with avsc, asking
 * the registry (RegistryRestClient) for its id and for each writer schema once. Decoding resolves
 * the writer schema (whatever version wrote the message) into the local reader schema, so a
 * consumer always sees the record shape it was compiled against. Every failure is a typed SerdeError (retriable or not).
 */
export class Serde<R extends RecordName> {
  readonly subject: string;
  readonly type: avro.Type;
  private readonly registry: RegistryRestClient;
  private readonly schemaText: string;
  private readonly autoRegister: boolean;
  private idPromise: Promise<number> | undefined;
  /** the schema id once `schemaId()` has resolved it: `encodeNow` needs no await */
  private knownId: number | undefined;
  private readonly readers = new Map<number, { resolver?: avro.Resolver }>();

  constructor(
    readonly topic: string,
    readonly record: R,
    opts: SerdeOptions = {},
  ) {
    const schemas = opts.schemas ?? loadSchemas({ prefix: opts.prefix ?? '' });
    this.subject = schemas.subjectOf(topic);
    this.type = schemas.types[record];
    this.schemaText = schemas.files[record].text;
    this.registry = opts.registry ?? createRegistryClient(opts.registryUrl);
    this.autoRegister = opts.autoRegister ?? false;
  }

  /** Schema id of the local schema under this topic's subject (looked up or registered once). */
  schemaId(): Promise<number> {
    this.idPromise ??= this.resolveId().then(
      (id) => {
        this.knownId = id;
        return id;
      },
      (e: unknown) => {
        this.idPromise = undefined; // retry the lookup next time
        throw e;
      },
    );
    return this.idPromise;
  }

  private async resolveId(): Promise<number> {
    try {
      if (this.autoRegister) return await this.registry.register(this.subject, this.schemaText);
      return await this.registry.lookupId(this.subject, this.schemaText);
    } catch (e) {
      const down = unavailable(e, this.topic, `looking up ${this.subject}`);
      if (down) throw down;
      throw new SchemaNotRegisteredError(
        `${this.record} in schemas/ is not registered under ${this.subject}: run \`feedlog schemas register\` (${(e as Error).message})`,
        this.topic,
        { cause: e },
      );
    }
  }

  /**
   * One walk over the value: avsc's writer checks every field as it writes and throws on the first
   * that does not fit. Only then is the value walked again (`isValid`) to name every offending
   * field, so a valid record costs one walk, not two, and an invalid one gets the same error. The
   * payload is written in place after the header (`writeFrameWith`), not copied into a frame.
   */
  async encode(value: RecordTypes[R]): Promise<Buffer> {
    return this.write(await this.schemaId(), value);
  }

  /**
   * `encode` without a promise once the schema id is known (an earlier `encode` or `schemaId()`
   * resolved it); `undefined` before, when only `encode` can ask the registry. Throws what
   * `encode` rejects with.
   */
  encodeNow(value: RecordTypes[R]): Buffer | undefined {
    return this.knownId === undefined ? undefined : this.write(this.knownId, value);
  }

  /**
   * The payload of a frame written with this Serde's own schema (its id fetched already, so no
   * resolution): those bytes are the value's encoding here, to be copied as they are
   * (`encodeNowExtending`). `undefined` for any other writer schema or an id not fetched yet.
   */
  localPayload(message: Buffer): Buffer | undefined {
    const { schemaId, payload } = readFrame(message, this.topic);
    const reader = this.readers.get(schemaId);
    return reader && !reader.resolver ? payload : undefined;
  }

  /**
   * A reader of local payloads (`localPayload`'s) that decodes only the fields named in `keep` and
   * skips the bytes of the others (avsc's resolver from this schema to its projection: a skipped
   * string costs a length read, no string). `keep` names top-level fields, each `true` (all of it)
   * or the list of fields to keep of a record-typed field: `{ headline: ['title'] }`. The result
   * has the kept fields only; `T` is the caller's type for it. Throws for a name that is not a
   * field, or a list for a field that is not a record; the reader throws the PayloadDecodeError of
   * `decode` for a payload that does not decode.
   */
  projection<T>(keep: Readonly<Record<string, true | readonly string[]>>): (payload: Buffer) => T {
    const schema = this.type.schema() as avro.schema.RecordType;
    const fields = Object.entries(keep).map(([name, sub]) => {
      const f = schema.fields.find((x) => x.name === name);
      if (!f) throw new RangeError(`${this.record} has no field ${name}`);
      if (sub === true) return f;
      const t = f.type as avro.schema.RecordType;
      if (typeof t !== 'object' || t.type !== 'record') throw new RangeError(`${this.record}.${name} is not a record`);
      const kept = sub.map((n) => {
        const g = t.fields.find((x) => x.name === n);
        if (!g) throw new RangeError(`${this.record}.${name} has no field ${n}`);
        return g;
      });
      return { ...f, type: { ...t, fields: kept } };
    });
    // same record names as the local schema (a resolver matches records by name)
    const reader = avro.Type.forSchema({ ...schema, fields } as avro.Schema);
    const resolver = reader.createResolver(this.type);
    return (payload) => this.readPayload(() => reader.fromBuffer(payload, resolver) as T);
  }

  /** The value of a local payload (`localPayload`'s): `decodeNow` of its frame, without the frame. */
  decodePayload(payload: Buffer): RecordTypes[R] {
    return this.readPayload(() => this.type.fromBuffer(payload) as RecordTypes[R]);
  }

  /** `read()`, its failure as the PayloadDecodeError every decode throws (naming the writer's schema id when known). */
  private readPayload<T>(read: () => T, id?: number): T {
    try {
      return read();
    } catch (e) {
      const schema = id === undefined ? '' : ` (schema id ${id})`;
      throw new PayloadDecodeError(
        `message on ${this.topic}${schema} does not decode as ${this.record}: ${(e as Error).message}`,
        this.topic,
        { cause: e },
      );
    }
  }

  /**
   * `encodeNow` of a record whose leading fields are a record of `head`'s schema, copied unchanged
   * from one `head` decoded (`payload`: its `localPayload`): the payload is copied and only the
   * remaining fields are encoded. The bytes are those of `encodeNow(value)`. `undefined` when the id
   * is not known yet or this schema does not begin with `head`'s fields; an invalid value throws the
   * RecordEncodeError of `encode`. The caller vouches that the leading fields of `value` are those
   * the payload was decoded to.
   *
   * `writeRest`, when given, writes the remaining fields instead of avsc's walk over them (for a
   * caller that keeps their bytes from record to record, as the classify stage does per label):
   * the contract of avsc's `Type.encode` (returns the end, or `buf.length` minus where the end
   * would have been), and the caller vouches that it writes the bytes avsc would write for the
   * `fieldsAfter(head)` of `value`. If it throws, the whole value is encoded by avsc instead (an
   * invalid one throws the RecordEncodeError of `encode`).
   */
  encodeNowExtending(
    head: { readonly type: avro.Type },
    payload: Buffer,
    value: RecordTypes[R],
    writeRest?: (value: RecordTypes[R], buf: Buffer, pos: number) => number,
  ): Buffer | undefined {
    const id = this.knownId;
    const rest = this.fieldsAfter(head);
    if (id === undefined || !rest) return undefined;
    const v = value as unknown as Record<string, unknown>;
    try {
      return writeFrameWith(id, (buf, pos) => {
        const end = pos + payload.length;
        if (end > buf.length) return buf.length - end; // bytes missing, as avsc reports them
        buf.set(payload, pos); // TypedArray#set: no native call per record, unlike Buffer#copy
        if (writeRest) return writeRest(value, buf, end);
        let at = end;
        for (const f of rest) {
          at = f.type.encode(v[f.name], buf, at);
          if (at < 0) return at;
        }
        return at;
      });
    } catch {
      return this.write(id, value); // the whole walk: throws the same RecordEncodeError as encode
    }
  }

  private readonly rests = new Map<avro.Type, avro.types.Field[] | null>();

  /** This record's fields after those of `head`'s record, when it begins with exactly them; else null. */
  fieldsAfter(head: { readonly type: avro.Type }): readonly avro.types.Field[] | null {
    let rest = this.rests.get(head.type);
    if (rest === undefined) {
      const mine = (this.type as avro.types.RecordType).fields ?? [];
      const theirs = (head.type as avro.types.RecordType).fields ?? [];
      const same =
        theirs.length > 0 &&
        theirs.length < mine.length &&
        theirs.every((f, i) => mine[i]?.name === f.name && mine[i]?.type.equals(f.type));
      rest = same ? mine.slice(theirs.length) : null;
      this.rests.set(head.type, rest);
    }
    return rest;
  }

  private write(id: number, value: RecordTypes[R]): Buffer {
    try {
      return writeFrameWith(id, (buf, pos) => this.type.encode(value, buf, pos));
    } catch (e) {
      const paths: string[] = [];
      if (!this.type.isValid(value, { errorHook: (path) => paths.push(path.join('.') || '(root)') })) {
        throw new RecordEncodeError(
          `${this.record} for ${this.topic} does not match its schema at ${paths.join(', ')}`,
          this.topic,
          paths,
          { cause: e },
        );
      }
      throw new RecordEncodeError(`${this.record} for ${this.topic}: ${(e as Error).message}`, this.topic, [], {
        cause: e,
      });
    }
  }

  async decode(message: Buffer): Promise<RecordTypes[R]> {
    const { schemaId: id, payload } = readFrame(message, this.topic);
    return this.read(id, payload, await this.readerFor(id));
  }

  /**
   * `decode` without a promise when the message's writer schema is already known (an earlier
   * `decode` fetched its id); `undefined` for an id not seen yet, which only `decode` can ask the
   * registry about. Throws what `decode` rejects with (a bad frame, a payload that does not decode).
   */
  decodeNow(message: Buffer): RecordTypes[R] | undefined {
    const { schemaId: id, payload } = readFrame(message, this.topic);
    const reader = this.readers.get(id);
    return reader ? this.read(id, payload, reader) : undefined;
  }

  private read(id: number, payload: Buffer, reader: { resolver?: avro.Resolver }): RecordTypes[R] {
    return this.readPayload(() => this.type.fromBuffer(payload, reader.resolver) as RecordTypes[R], id);
  }

  /** fetches of writer schemas in flight: concurrent decodes of a new id share one registry request */
  private readonly fetching = new Map<number, Promise<{ resolver?: avro.Resolver }>>();

  private readerFor(id: number): Promise<{ resolver?: avro.Resolver }> {
    const hit = this.readers.get(id);
    if (hit) return Promise.resolve(hit);
    let p = this.fetching.get(id);
    if (!p) {
      p = this.fetchReader(id).finally(() => this.fetching.delete(id));
      this.fetching.set(id, p);
    }
    return p;
  }

  private async fetchReader(id: number): Promise<{ resolver?: avro.Resolver }> {
    let found: { schema: string; schemaType?: string };
    try {
      found = await this.registry.schemaById(id);
    } catch (e) {
      const down = unavailable(e, this.topic, `fetching schema ${id}`);
      if (down) throw down;
      if (e instanceof RegistryHttpError && e.status === 404)
        throw new UnknownSchemaIdError(id, this.topic, { cause: e });
      throw new IncompatibleSchemaError(`schema id ${id}: ${(e as Error).message}`, this.topic, { cause: e });
    }
    if ((found.schemaType ?? 'AVRO') !== 'AVRO') {
      throw new IncompatibleSchemaError(`schema id ${id} is not an Avro schema`, this.topic);
    }
    let writer: avro.Type;
    try {
      writer = avro.Type.forSchema(JSON.parse(found.schema) as avro.Schema);
    } catch (e) {
      throw new IncompatibleSchemaError(`schema id ${id} does not parse as Avro: ${(e as Error).message}`, this.topic, {
        cause: e,
      });
    }
    let entry: { resolver?: avro.Resolver };
    if (writer.equals(this.type)) {
      entry = {};
    } else {
      try {
        entry = { resolver: this.type.createResolver(writer) };
      } catch (e) {
        throw new IncompatibleSchemaError(
          `schema id ${id} (${writer.name}) cannot be read as ${this.record}: ${(e as Error).message}`,
          this.topic,
          { cause: e },
        );
      }
    }
    this.readers.set(id, entry);
    return entry;
  }
}

/** A Serde for a declared topic, typed by the record it carries. */
export function serdeFor<R extends RecordName>(record: R, topic: string, opts: SerdeOptions = {}): Serde<R> {
  const schemas = opts.schemas ?? loadSchemas({ prefix: opts.prefix ?? '' });
  const declared = schemas.recordOf(topic);
  if (declared !== record) throw new Error(`topic ${topic} carries ${declared}, not ${record}`);
  return new Serde(topic, record, { ...opts, schemas });
}
