import { createHash } from 'node:crypto';
import type { RawHeadline } from './generated.ts';

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

/** An item as pushed (POST /v1/items, `feedlog produce`): what becomes a RawHeadline. */
export interface PushedItem {
  source: string;
  guid?: string | null;
  url: string;
  title: string;
  summary?: string | null;
  /** ISO string (the API), epoch ms or a Date (the SDK); absent or null: unknown */
  published_at?: string | number | Date | null;
}

/**
 * The one mapping of a pushed item to the RawHeadline written to raw-headlines, so the API and
 * `feedlog produce --direct` write the same record under the same key.
 */
export function rawHeadlineOf(it: PushedItem, jobId: string, ingestedAt: number): RawHeadline {
  const guid = it.guid?.trim() || null;
  const p = it.published_at;
  const id = itemId({ source: it.source, guid, url: it.url });
  return {
    item_id: id,
    job_id: jobId,
    headline: {
      source: it.source.trim(),
      guid,
      url: canonicalUrl(it.url),
      title: it.title.trim(),
      summary: it.summary ?? null,
      published_at:
        p === null || p === undefined || p === ''
          ? null
          : p instanceof Date
            ? p.getTime()
            : typeof p === 'number'
              ? p
              : Date.parse(p),
      ingested_at: ingestedAt,
    },
  };
}
