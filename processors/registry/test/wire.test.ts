import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import {
  classifyRegistryError,
  decodeConfluentFrame,
  decodeWith,
  encodeConfluentFrame,
  RegistryUnavailableError,
  UnknownSchemaError,
  WireFormatError,
} from '../src/wire.ts';

const type = avro.Type.forSchema({ type: 'record', name: 'R', fields: [{ name: 'a', type: 'string' }] });

describe('Confluent wire format', () => {
  it('round-trips schema id and payload', () => {
    const buf = encodeConfluentFrame(123456, type.toBuffer({ a: 'x' }));
    expect(buf[0]).toBe(0);
    const { schemaId, payload } = decodeConfluentFrame(buf);
    expect(schemaId).toBe(123456);
    expect(type.fromBuffer(payload)).toEqual({ a: 'x' });
  });

  it('rejects a wrong magic byte with a typed, non-retriable error', () => {
    const buf = encodeConfluentFrame(1, type.toBuffer({ a: 'x' }));
    buf[0] = 1;
    try {
      decodeConfluentFrame(buf);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(WireFormatError);
      expect((e as WireFormatError).code).toBe('BAD_MAGIC_BYTE');
      expect((e as WireFormatError).retriable).toBe(false);
    }
    expect(() => decodeConfluentFrame(Buffer.from('{"json":true}'))).toThrow(/magic byte 123/);
  });

  it('rejects truncated frames', () => {
    for (const b of [Buffer.alloc(0), Buffer.from([0, 0, 0])]) {
      try {
        decodeConfluentFrame(b);
        expect.unreachable();
      } catch (e) {
        expect((e as WireFormatError).code).toBe('TRUNCATED');
      }
    }
  });

  it('maps registry 40403 / 404 to UnknownSchemaError and other failures to a retriable error', () => {
    const restError = Object.assign(new Error('Schema 9 not found'), { status: 404, errorCode: 40403 });
    const kafkajsError = Object.assign(new Error('Schema 9 not found'), { status: 404 });
    expect(classifyRegistryError(restError, 9)).toBeInstanceOf(UnknownSchemaError);
    expect(classifyRegistryError(kafkajsError, 9)).toBeInstanceOf(UnknownSchemaError);
    const down = classifyRegistryError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 9);
    expect(down).toBeInstanceOf(RegistryUnavailableError);
    expect((down as RegistryUnavailableError).retriable).toBe(true);
  });

  it('decodeWith surfaces unknown ids as UnknownSchemaError', async () => {
    const known = new Map([[7, type]]);
    const fetch = async (id: number) => {
      const t = known.get(id);
      if (!t) throw Object.assign(new Error(`Schema ${id} not found`), { status: 404, errorCode: 40403 });
      return t;
    };
    expect((await decodeWith(encodeConfluentFrame(7, type.toBuffer({ a: 'y' })), fetch)).value).toEqual({ a: 'y' });
    await expect(decodeWith(encodeConfluentFrame(8, type.toBuffer({ a: 'y' })), fetch)).rejects.toMatchObject({
      name: 'UnknownSchemaError',
      schemaId: 8,
      retriable: false,
    });
  });
});
