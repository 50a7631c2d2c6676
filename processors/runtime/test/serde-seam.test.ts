// The schemas package's Avro Serde is the production Codec: check that it fits the seam (at
// compile time) and that its typed decode errors reach the DLQ under their own names.
import { type DeadLetter as AvroDeadLetter, type RawHeadline, type RegistryRestClient, Serde } from '@feedlog/schemas';
import { describe, expect, it } from 'vitest';
import { type Codec, type DeadLetter, defineStage, runInMemory, stringCodec } from '../src/index.ts';

// compile-time: a Serde is a Codec, for stage records and for dead letters
const asCodec = (s: Serde<'RawHeadline'>): Codec<RawHeadline> => s;
const asDlqCodec = (s: Serde<'DeadLetter'>): Codec<DeadLetter> => s;
const sameDeadLetter = (d: AvroDeadLetter): DeadLetter => d;

describe('the schemas Serde behind the Codec seam', () => {
  it('dead-letters frames the Serde rejects before any registry call, with the Serde error class', async () => {
    const noRegistry = new Proxy({} as RegistryRestClient, {
      get() {
        throw new Error('the registry must not be called for a bad frame');
      },
    });
    const serde = new Serde('raw-headlines', 'RawHeadline', { registry: noRegistry });
    expect([asCodec, asDlqCodec, sameDeadLetter].every((f) => typeof f === 'function')).toBe(true);
    const stage = defineStage({
      name: 'seam',
      generation: 1,
      model: { name: 'none', version: '0' },
      input: { topic: 'raw-headlines', codec: asCodec(serde) },
      output: { topic: 'out', codec: stringCodec() },
      dlq: { topic: 'seam.dlq' },
      map: (r) => r.value.headline.title,
    });
    const r = await runInMemory(stage, [
      { key: 'magic', value: Buffer.from([7, 0, 0, 0, 1, 2, 3]) },
      { key: 'short', value: Buffer.from([0, 1]) },
    ]);
    expect(r.outputs).toEqual([]);
    expect(r.dead.map((d) => [d.original_key?.toString(), d.error_class, d.retriable])).toEqual([
      ['magic', 'WrongMagicByteError', false],
      ['short', 'TruncatedMessageError', false],
    ]);
  });
});
