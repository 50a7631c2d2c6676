/**
 * Feed dates to epoch milliseconds (UTC). RFC 822/1123 (`pubDate`) and RFC 3339 (`updated`,
 * `dc:date`) plus the broken variants feeds publish: two-digit years, time-zone abbreviations
 * (EST, CEST, …), a missing zone (taken as UTC), a missing seconds field, a wrong day name,
 * `Sept`, a space instead of `T`, a comma after the year. Returns null for what is not a date.
 */
const zones: Record<string, string> = {
  UT: '+0000',
  UTC: '+0000',
  GMT: '+0000',
  Z: '+0000',
  EST: '-0500',
  EDT: '-0400',
  CST: '-0600',
  CDT: '-0500',
  MST: '-0700',
  MDT: '-0600',
  PST: '-0800',
  PDT: '-0700',
  AKST: '-0900',
  AKDT: '-0800',
  HST: '-1000',
  BST: '+0100',
  IST: '+0530',
  CET: '+0100',
  CEST: '+0200',
  MET: '+0100',
  MEST: '+0200',
  EET: '+0200',
  EEST: '+0300',
  MSK: '+0300',
  JST: '+0900',
  KST: '+0900',
  AEST: '+1000',
  AEDT: '+1100',
  NZST: '+1200',
  NZDT: '+1300',
};
const months = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

const rfc822 =
  /^(?:[A-Za-z]+,?\s*)?(\d{1,2})[\s-]+([A-Za-z]+)\.?[\s-]+(\d{2,4}),?\s+(\d{1,2}):?(\d{2})(?::(\d{2}))?(?:\.\d+)?\s*(AM|PM)?\s*([A-Za-z]{1,5}|[+-]\d{1,2}:?\d{2})?(?:\s*\(.*\))?$/i;
// `Sat, Dec 16 2023 …`: month before day
const monthFirst = /^((?:[A-Za-z]+,?\s*)?)([A-Za-z]{3,})\.?\s+(\d{1,2}),?\s+(\d{4})\b/;
const iso =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T\s](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2}|[A-Za-z]{2,5})?$/i;

function offsetMinutes(zone: string | undefined): number | null {
  if (!zone) return 0;
  const z = zone.toUpperCase();
  const named = zones[z] ?? (/^[A-Z]{1,5}$/.test(z) ? null : z);
  if (named === null) return null;
  const m = /^([+-])(\d{1,2}):?(\d{2})$/.exec(named);
  if (!m) return null;
  const sign = m[1] === '-' ? -1 : 1;
  return sign * (Number(m[2]) * 60 + Number(m[3]));
}

export function parseFeedDate(input: string | null | undefined): number | null {
  const s = input?.trim().replace(/\s+/g, ' ');
  if (!s) return null;
  let m = iso.exec(s);
  if (m) {
    const off = offsetMinutes(m[8]);
    if (off === null) return null;
    const ms = m[7] ? Math.round(Number(m[7]) * 1000) : 0;
    const t = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0), ms);
    return valid(t - off * 60_000);
  }
  m = rfc822.exec(s.replace(monthFirst, '$1$3 $2 $4'));
  if (m) {
    const month = months.indexOf(m[2]!.slice(0, 3).toLowerCase());
    if (month < 0) return null;
    let year = Number(m[3]);
    if (m[3]!.length === 2) year += year < 50 ? 2000 : 1900;
    const off = offsetMinutes(m[8]);
    if (off === null) return null;
    let hour = Number(m[4]);
    const half = m[7]?.toUpperCase();
    if (half === 'PM' && hour < 12) hour += 12;
    if (half === 'AM' && hour === 12) hour = 0;
    const t = Date.UTC(year, month, Number(m[1]), hour, Number(m[5]), Number(m[6] ?? 0));
    return valid(t - off * 60_000);
  }
  // last resort: what the JavaScript engine understands, only if it names a zone (else local time leaks in)
  const t = Date.parse(s);
  return /(Z|GMT|UTC|[+-]\d{2}:?\d{2})$/i.test(s) ? valid(t) : null;
}

function valid(t: number): number | null {
  // before 1990 or more than a day ahead is a broken date, not news
  return Number.isFinite(t) && t > 631_152_000_000 && t < Date.now() + 86_400_000 * 366 * 50 ? t : null;
}
