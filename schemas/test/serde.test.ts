import { describe, expect, it } from 'vitest';
import { RegistryUnavailableError, TruncatedMessageError, WrongMagicByteError } from '../src/errors.ts';
import { sampleRecords } from '../src/fixtures.ts';
import { serdeFor } from '../src/serde.ts';

// A port nothing listens on: the header checks must fail before any registry call,
// and a registry call must fail as a retriable error.
const offline = { registryUrl: 'http://127.0.0.1:9' };

describe('Serde without a registry', () => {
  const serde = serdeFor('RawHeadline', 'raw-headlines', offline);

  it('rejects a wrong magic byte as a non-retriable typed error', async () => {
    const err = await serde.decode(Buffer.from([1, 0, 0, 0, 1, 2, 3])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WrongMagicByteError);
    expect(err).toMatchObject({
      retriable: false,
      code: 'FEEDLOG_WIRE_BAD_MAGIC_BYTE',
      magicByte: 1,
      topic: 'raw-headlines',
    });
  });

  it('rejects a message shorter than the header', async () => {
    const err = await serde.decode(Buffer.from([0, 0, 1])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TruncatedMessageError);
    expect(err).toMatchObject({ retriable: false });
  });

  it('reports an unreachable registry as retriable', async () => {
    const err = await serde.decode(Buffer.from([0, 0, 0, 0, 7, 2])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryUnavailableError);
    expect(err).toMatchObject({ retriable: true });
    const enc = await serde.encode(sampleRecords().RawHeadline).catch((e: unknown) => e);
    expect(enc).toBeInstanceOf(RegistryUnavailableError);
  });

  it('refuses a topic that carries another record', () => {
    expect(() => serdeFor('RawHeadline', 'classified', offline)).toThrow(/carries ClassifiedHeadline/);
  });
});
