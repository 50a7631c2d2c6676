import { ResetUsageError } from './errors.ts';
import type { TopicSelector } from './types.ts';

/**
 * `--to-datetime`: the formats of Kafka's `Utils.getDateTime`, `yyyy-MM-ddTHH:mm:ss.SSS` with an
 * optional zone `Z`, `±HH`, `±HHmm` or `±HH:mm` (no zone = UTC). feedlog also accepts the seconds
 * or the milliseconds left out (Kafka requires `.SSS`); a longer fraction is truncated to ms.
 */
export function parseDateTime(input: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/.exec(
    input,
  );
  if (!m) {
    throw new ResetUsageError(
      `bad datetime '${input}': expected YYYY-MM-DDTHH:mm:SS.sss with an optional zone (Z, +01:00, +0100), e.g. 2026-01-31T13:00:00.000Z`,
    );
  }
  const [, y, mo, d, h, mi, s = '00', frac = '', zone = 'Z'] = m;
  const ms = frac.padEnd(3, '0').slice(0, 3);
  const z = zone === 'Z' ? 'Z' : zone.length === 3 ? `${zone}:00` : `${zone.slice(0, 3)}:${zone.slice(-2)}`;
  const iso = `${y}-${mo}-${d}T${h}:${mi}:${s}.${ms}${z}`;
  const t = Date.parse(iso);
  // Date.parse rolls 2026-02-30 over to March; Kafka's non-lenient parser rejects it, and so do we.
  const back = new Date(t + (z === 'Z' ? 0 : zoneMs(z)));
  if (
    Number.isNaN(t) ||
    back.getUTCFullYear() !== Number(y) ||
    back.getUTCMonth() + 1 !== Number(mo) ||
    back.getUTCDate() !== Number(d) ||
    back.getUTCHours() !== Number(h) ||
    Number(mi) > 59 ||
    Number(s) > 59
  ) {
    throw new ResetUsageError(`bad datetime '${input}': no such date or time`);
  }
  return t;
}

function zoneMs(z: string): number {
  const sign = z.startsWith('-') ? -1 : 1;
  return sign * (Number(z.slice(1, 3)) * 3_600_000 + Number(z.slice(4, 6)) * 60_000);
}

/**
 * `--by-duration`: Java's `Duration.parse` grammar (what Kafka's tool uses): `PnDTnHnMn.nS`, each
 * part optional but at least one, signs allowed on the whole and on each part, case-insensitive,
 * `,` or `.` before the fraction of seconds. Returns milliseconds (sub-ms parts truncated).
 */
export function parseDuration(input: string): number {
  const m = /^([-+]?)P(?:([-+]?\d+)D)?(T(?:([-+]?\d+)H)?(?:([-+]?\d+)M)?(?:([-+]?\d+)(?:[.,](\d{0,9}))?S)?)?$/i.exec(
    input,
  );
  // "P", "PT" and "P1DT" are rejected by Java too: a T must be followed by something.
  if (!m || (m[2] === undefined && m[3] === undefined) || m[3]?.toUpperCase() === 'T') {
    throw new ResetUsageError(
      `bad duration '${input}': expected ISO-8601 PnDTnHnMn.nS, e.g. PT30M, PT6H, P1DT12H (a day is 24 h)`,
    );
  }
  const [, sign, d, , h, mi, s, frac] = m;
  const n = (v: string | undefined) => (v ? Number(v) : 0);
  const secSign = s?.startsWith('-') ? -1 : 1;
  const fracMs = frac ? Number(frac.padEnd(9, '0').slice(0, 3)) * secSign : 0;
  const total = n(d) * 86_400_000 + n(h) * 3_600_000 + n(mi) * 60_000 + n(s) * 1_000 + fracMs;
  return sign === '-' ? -total : total;
}

/** `--topic T` or `--topic T:0,1,2` (Kafka's separator is `:`; partitions are comma-separated). */
export function parseTopicArg(arg: string): TopicSelector {
  if (!arg.includes(':')) {
    if (!arg) throw new ResetUsageError('empty --topic');
    return { topic: arg };
  }
  const parts = arg.split(':');
  if (parts.length !== 2 || !parts[0]) {
    throw new ResetUsageError(`bad --topic '${arg}': expected a topic name and partitions, e.g. orders:0,1,2`);
  }
  const partitions = parts[1]!.split(',').map((p) => {
    if (!/^\d+$/.test(p.trim())) throw new ResetUsageError(`bad partition '${p}' in --topic '${arg}'`);
    return Number(p.trim());
  });
  return { topic: parts[0], partitions };
}

/** A (possibly signed) 64-bit integer option: `--to-offset`, `--shift-by`. */
export function parseLong(name: string, v: string): bigint {
  if (!/^[-+]?\d+$/.test(v.trim())) throw new ResetUsageError(`bad ${name} '${v}': expected an integer`);
  const n = BigInt(v.trim());
  if (n > 9_223_372_036_854_775_807n || n < -9_223_372_036_854_775_808n) {
    throw new ResetUsageError(`bad ${name} '${v}': out of the 64-bit range`);
  }
  return n;
}
