import { createHash } from 'node:crypto';

const trackingParams = /^(utm_[a-z]+|fbclid|gclid|mc_cid|mc_eid|ocid|cmpid)$/i;

/**
 * The canonical form of an item URL used for item ids: lower-case scheme and host, no default
 * port, no fragment, no tracking parameters (utm_*, fbclid, gclid, …), remaining query
 * parameters sorted. A string that is not an absolute URL is returned trimmed, unchanged.
 */
export function canonicalUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url.trim());
  } catch {
    return url.trim();
  }
  u.hash = '';
  const kept = [...u.searchParams].filter(([k]) => !trackingParams.test(k));
  kept.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  u.search = new URLSearchParams(kept).toString();
  return u.toString();
}

/**
 * Stable item id: hex SHA-256 (first 32 hex digits) of the source id and the item's guid, or
 * its canonical URL when it has no guid. The same item pushed twice gets the same id (and the
 * same Kafka key), so downstream upserts are idempotent.
 */
export function itemId(item: { source: string; guid?: string | null; url: string }): string {
  const guid = item.guid?.trim();
  const identity = guid ? `guid:${guid}` : `url:${canonicalUrl(item.url)}`;
  return createHash('sha256').update(item.source.trim()).update('\n').update(identity).digest('hex').slice(0, 32);
}
