import {
  type ConfluentFrame,
  createRegistryClient,
  type RegistryRestClient,
  readFrame,
  WrongMagicByteError,
} from '@feedlog/schemas';
import avro from 'avsc';

/** A value decoded with the schema that wrote it (whatever its version), or why it could not be. */
export type Decoded =
  | { ok: true; schemaId: number; record: string; value: unknown }
  | { ok: false; reason: string; bytes: number; hex: string };

const HEX_PREFIX = 16;

/**
 * Decodes Confluent-framed Avro with the writer's schema fetched from the registry (the shared
 * @feedlog/schemas client), so records of every registered version decode as written, including
 * fields a newer version added. Never throws for bad bytes: a tail must go on past them.
 */
export class RecordDecoder {
  private readonly registry: RegistryRestClient;
  private readonly types = new Map<number, Promise<avro.Type>>();

  constructor(opts: { registry?: RegistryRestClient; registryUrl?: string } = {}) {
    this.registry = opts.registry ?? createRegistryClient(opts.registryUrl);
  }

  async decode(value: Buffer | null): Promise<Decoded> {
    if (value === null) return undecodable(Buffer.alloc(0), 'null value (tombstone)');
    let frame: ConfluentFrame;
    try {
      frame = readFrame(value);
    } catch (e) {
      if (e instanceof WrongMagicByteError)
        return undecodable(value, `magic byte ${e.magicByte}, not 0: not Confluent wire format`);
      return undecodable(value, (e as Error).message);
    }
    const id = frame.schemaId;
    let type: avro.Type;
    try {
      type = await this.typeOf(id);
    } catch (e) {
      return undecodable(value, `schema id ${id}: ${(e as Error).message}`);
    }
    try {
      return {
        ok: true,
        schemaId: id,
        record: type.name ?? type.typeName,
        value: type.fromBuffer(frame.payload),
      };
    } catch (e) {
      return undecodable(value, `does not decode with schema id ${id}: ${(e as Error).message}`);
    }
  }

  private typeOf(id: number): Promise<avro.Type> {
    let hit = this.types.get(id);
    if (!hit) {
      hit = this.registry.schemaById(id).then((s) => {
        if ((s.schemaType ?? 'AVRO') !== 'AVRO') throw new Error('not an Avro schema');
        return avro.Type.forSchema(JSON.parse(s.schema) as avro.Schema);
      });
      // a registry outage is not cached: the next record asks again
      hit.catch(() => this.types.delete(id));
      this.types.set(id, hit);
    }
    return hit;
  }
}

function undecodable(value: Buffer, reason: string): Decoded {
  return { ok: false, reason, bytes: value.length, hex: value.subarray(0, HEX_PREFIX).toString('hex') };
}
