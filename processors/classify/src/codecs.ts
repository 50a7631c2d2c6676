import type { Codec } from '@feedlog/runtime';
import type { ClassifiedHeadline, RawHeadline, Serde } from '@feedlog/schemas';

/** Where a decoded headline keeps the payload it came from (a non-enumerable property: not a field). */
const SOURCE = Symbol('feedlog.classify.source');
type Tagged = RawHeadline['headline'] & { [SOURCE]?: { payload: Buffer; value: RawHeadline } };

/**
 * The classify stage's codecs. A ClassifiedHeadline is its RawHeadline's fields (item_id, job_id,
 * headline: the same schema, in the same order) plus `classification`, so its Avro encoding begins
 * with the input's payload: when the input was written with the local RawHeadline schema, the
 * output copies those bytes and encodes only the classification (`Serde.encodeNowExtending`)
 * instead of walking every string of the headline again. The bytes are those of a full encode.
 *
 * The input codec keeps each decoded record's payload on its `headline` object; the output
 * codec uses it only when the value carries that same headline object, item_id and job_id (the
 * stage copies them unchanged), and encodes the whole value otherwise.
 */
export function classifyCodecs(
  raw: Serde<'RawHeadline'>,
  classified: Serde<'ClassifiedHeadline'>,
): { input: Codec<RawHeadline>; output: Codec<ClassifiedHeadline> } {
  const remember = (buf: Buffer, value: RawHeadline): RawHeadline => {
    const payload = raw.localPayload(buf);
    if (payload) Object.defineProperty(value.headline, SOURCE, { value: { payload, value } });
    return value;
  };
  const input: Codec<RawHeadline> = {
    decode: async (buf) => remember(buf, await raw.decode(buf)),
    decodeNow(buf) {
      const v = raw.decodeNow(buf);
      return v === undefined ? undefined : remember(buf, v);
    },
    encode: (value) => raw.encode(value),
  };
  const output: Codec<ClassifiedHeadline> = {
    decode: (buf) => classified.decode(buf),
    decodeNow: (buf) => classified.decodeNow(buf),
    encode: (value) => classified.encode(value),
    encodeNow(value) {
      const from = (value.headline as Tagged)[SOURCE];
      if (from && from.value.item_id === value.item_id && from.value.job_id === value.job_id)
        return classified.encodeNowExtending(raw, from.payload, value) ?? classified.encodeNow(value);
      return classified.encodeNow(value);
    },
  };
  return { input, output };
}
