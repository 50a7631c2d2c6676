import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import {
  RegistryUnavailableError,
  TruncatedMessageError,
  UnknownSchemaIdError,
  WrongMagicByteError,
} from '../src/errors.ts';
import { classifyRegistryError, decodeWith, readFrame, writeFrame } from '../src/wire.ts';

const type = avro.Type.forSchema({ type: 'record', name: 'R', fields: [{ name: 'a', type: 'string' }] });

describe('Confluent wire format', () => {
  it('round-trips schema id and payload', () => {
    const buf = writeFrame(123456, type.toBuffer({ a: 'x' }));
    expect(buf[0]).toBe(0);
    const { schemaId, payload } = readFrame(buf);
    expect(schemaId).toBe(123456);
    expect(type.fromBuffer(payload)).toEqual({ a: 'x' });
  });

  it('rejects a wrong magic byte with a typed, non-retriable error', () => {
    const buf = writeFrame(1, type.toBuffer({ a: 'x' }));
    buf[0] = 1;
    try {
      readFrame(buf);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(WrongMagicByteError);
      expect((e as WrongMagicByteError).code).toBe('FEEDLOG_WIRE_BAD_MAGIC_BYTE');
      expect((e as WrongMagicByteError).retriable).toBe(false);
    }
    expect(() => readFrame(Buffer.from('{"json":true}'))).toThrow(/starts with byte 123/);
  });

  it('rejects truncated frames', () => {
    for (const b of [Buffer.alloc(0), Buffer.from([0, 0, 0])]) {
      try {
        readFrame(b);
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(TruncatedMessageError);
        expect((e as TruncatedMessageError).code).toBe('FEEDLOG_WIRE_TRUNCATED');
      }
    }
  });

  it('maps registry 40403 / 404 to UnknownSchemaIdError and other failures to a retriable error', () => {
    const restError = Object.assign(new Error('Schema 9 not found'), { status: 404, errorCode: 40403 });
    const kafkajsError = Object.assign(new Error('Schema 9 not found'), { status: 404 });
    expect(classifyRegistryError(restError, 9)).toBeInstanceOf(UnknownSchemaIdError);
    expect(classifyRegistryError(kafkajsError, 9)).toBeInstanceOf(UnknownSchemaIdError);
    const down = classifyRegistryError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 9);
    expect(down).toBeInstanceOf(RegistryUnavailableError);
    expect((down as RegistryUnavailableError).retriable).toBe(true);
  });

  it('decodeWith surfaces unknown ids as UnknownSchemaIdError', async () => {
    const known = new Map([[7, type]]);
    const fetch = async (id: number) => {
      const t = known.get(id);
      if (!t) throw Object.assign(new Error(`Schema ${id} not found`), { status: 404, errorCode: 40403 });
      return t;
    };
    expect((await decodeWith(writeFrame(7, type.toBuffer({ a: 'y' })), fetch)).value).toEqual({ a: 'y' });
    await expect(decodeWith(writeFrame(8, type.toBuffer({ a: 'y' })), fetch)).rejects.toMatchObject({
      name: 'UnknownSchemaIdError',
      code: 'FEEDLOG_UNKNOWN_SCHEMA_ID',
      schemaId: 8,
      retriable: false,
    });
  });
});
