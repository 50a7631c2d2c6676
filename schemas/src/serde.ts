import { loadConfig } from '@feedlog/common';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
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
import { readFrame } from './wire.ts';

export interface SerdeOptions {
  /** Registry base URL (default: SCHEMA_REGISTRY_URL via loadConfig()). Ignored when `registry` is given. */
  registryUrl?: string;
  /** A shared client (its id/schema cache is shared too). */
  registry?: SchemaRegistry;
  /** Register the local schema under the subject on first encode (default false: look its id up). */
  autoRegister?: boolean;
  /** Topic-name prefix of the declarations (tests). */
  prefix?: string;
  schemas?: LoadedSchemas;
}

/** A @kafkajs/confluent-schema-registry client for `url` (default: SCHEMA_REGISTRY_URL). */
export function createRegistryClient(url: string = loadConfig().registry.url): SchemaRegistry {
  return new SchemaRegistry({ host: url, retry: { retries: 2, initialRetryTimeInSecs: 0.1, maxRetryTimeInSecs: 1 } });
}

type ResponseErrorLike = { status?: number; name?: string; message?: string };

/**
 * The registry's own 4xx answer (returned as is), or a retriable RegistryUnavailableError. Decided
 * by status, never by message: mappersmith (under @kafkajs/confluent-schema-registry) reports a
 * failed connection as status 400 and drops the cause, and the registry answers its client errors
 * with 404/409/422, so 400 (like 408, 429, 5xx and no status at all) means "could not ask".
 */
function registryError(e: unknown, topic: string, what: string): Error {
  const { status } = (e as ResponseErrorLike) ?? {};
  const answered = typeof status === 'number' && status > 400 && status < 500 && status !== 408 && status !== 429;
  if (answered) return e as Error;
  return new RegistryUnavailableError(
    `schema registry unavailable while ${what}: ${(e as Error)?.message ?? e}`,
    topic,
    {
      cause: e,
    },
  );
}

/**
 * Encodes and decodes one topic's values in the Confluent wire format through
 * @kafkajs/confluent-schema-registry. Decoding resolves the writer schema (whatever version
 * wrote the message) into the local reader schema, so a consumer always sees the record shape
 * it was compiled against. Every failure is a typed SerdeError (retriable or not).
 */
export class Serde<R extends RecordName> {
  readonly subject: string;
  readonly type: avro.Type;
  private readonly registry: SchemaRegistry;
  private readonly schemaText: string;
  private readonly autoRegister: boolean;
  private idPromise: Promise<number> | undefined;
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
    this.idPromise ??= this.resolveId().catch((e: unknown) => {
      this.idPromise = undefined; // retry the lookup next time
      throw e;
    });
    return this.idPromise;
  }

  private async resolveId(): Promise<number> {
    const schema = { type: SchemaType.AVRO, schema: this.schemaText } as const;
    try {
      if (this.autoRegister) return (await this.registry.register(schema, { subject: this.subject })).id;
      return await this.registry.getRegistryIdBySchema(this.subject, schema);
    } catch (e) {
      // getRegistryIdBySchema rethrows the registry's 404 as a bare ConfluentSchemaRegistryError (no status).
      const notFound = (e as ResponseErrorLike)?.name === 'ConfluentSchemaRegistryError';
      const err = notFound ? (e as Error) : registryError(e, this.topic, `looking up ${this.subject}`);
      if (err instanceof RegistryUnavailableError) throw err;
      throw new SchemaNotRegisteredError(
        `${this.record} in schemas/ is not registered under ${this.subject}: run \`feedlog schemas register\` (${(e as Error).message})`,
        this.topic,
        { cause: e },
      );
    }
  }

  async encode(value: RecordTypes[R]): Promise<Buffer> {
    const id = await this.schemaId();
    try {
      return await this.registry.encode(id, value);
    } catch (e) {
      // An invalid value: the client reports the offending paths (ConfluentSchemaRegistryValidationError).
      const invalid = (e as { paths?: string[][] }).paths;
      if (Array.isArray(invalid)) {
        const paths = invalid.map((p) => p.join('.') || '(root)');
        throw new RecordEncodeError(
          `${this.record} for ${this.topic} does not match its schema at ${paths.join(', ')}`,
          this.topic,
          paths,
          { cause: e },
        );
      }
      const err = registryError(e, this.topic, `encoding with schema ${id}`);
      if (err instanceof RegistryUnavailableError) throw err;
      throw new RecordEncodeError(`${this.record} for ${this.topic}: ${(e as Error).message}`, this.topic, [], {
        cause: e,
      });
    }
  }

  async decode(message: Buffer): Promise<RecordTypes[R]> {
    const { schemaId: id, payload } = readFrame(message, this.topic);
    const reader = await this.readerFor(id);
    try {
      return this.type.fromBuffer(payload, reader.resolver) as RecordTypes[R];
    } catch (e) {
      throw new PayloadDecodeError(
        `message on ${this.topic} (schema id ${id}) does not decode as ${this.record}: ${(e as Error).message}`,
        this.topic,
        { cause: e },
      );
    }
  }

  private async readerFor(id: number): Promise<{ resolver?: avro.Resolver }> {
    const hit = this.readers.get(id);
    if (hit) return hit;
    let writer: unknown;
    try {
      writer = await this.registry.getSchema(id);
    } catch (e) {
      const err = registryError(e, this.topic, `fetching schema ${id}`);
      if (err instanceof RegistryUnavailableError) throw err;
      if ((e as ResponseErrorLike).status === 404) throw new UnknownSchemaIdError(id, this.topic, { cause: e });
      throw new IncompatibleSchemaError(`schema id ${id}: ${(e as Error).message}`, this.topic, { cause: e });
    }
    if (!(writer instanceof avro.Type)) {
      throw new IncompatibleSchemaError(`schema id ${id} is not an Avro schema`, this.topic);
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
