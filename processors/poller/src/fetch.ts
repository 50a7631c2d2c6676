import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { type Dispatcher, request } from 'undici';

export interface FetchOptions {
  etag?: string | null;
  lastModified?: string | null;
  /** whole request, headers to last byte (a slow body is cut here), ms */
  timeoutMs: number;
  /** decoded body bytes at most (also bounds a decompression bomb) */
  maxBytes: number;
  maxRedirects: number;
  userAgent?: string;
  dispatcher?: Dispatcher;
}

export type FetchResult =
  | {
      kind: 'body';
      status: number;
      body: Buffer;
      etag: string | null;
      lastModified: string | null;
      charset: string | null;
      finalUrl: string;
      /** every redirect on the way was permanent (301/308): the stored URL should move */
      permanentlyMoved: boolean;
    }
  | { kind: 'not_modified'; status: 304 }
  | { kind: 'retry_later'; status: number; retryAfterMs: number | null; message: string }
  | { kind: 'error'; status: number | null; message: string };

class TooLarge extends Error {}

/** Retry-After: delta-seconds or an HTTP date; null when absent or unreadable. */
export function retryAfterMs(value: string | string[] | undefined, now = Date.now()): number | null {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return null;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const t = Date.parse(v);
  return Number.isFinite(t) ? Math.max(0, t - now) : null;
}

const header = (h: Record<string, string | string[] | undefined>, name: string) => {
  const v = h[name];
  return Array.isArray(v) ? (v[0] ?? null) : (v ?? null);
};

/**
 * One conditional GET of a feed: redirects followed up to a bound, 304, 429/503 with
 * Retry-After, gzip/deflate/br decoded, the decoded body capped, the whole exchange under one
 * deadline. Never throws: every failure is a result the poller records.
 */
export async function fetchFeed(url: string, o: FetchOptions): Promise<FetchResult> {
  const controller = new AbortController();
  const signal = controller.signal;
  // cleared when the exchange ends, so no abort reaches a finished body later
  const deadline = setTimeout(() => controller.abort(new Error('deadline')), o.timeoutMs);
  let current = url;
  let permanent = true;
  try {
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = {
        'accept-encoding': 'gzip, deflate, br',
        accept: 'application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5',
        'user-agent': o.userAgent ?? 'feedlog-poller/0.1 (+https://github.com/feedlog)',
      };
      if (o.etag) headers['if-none-match'] = o.etag;
      if (o.lastModified) headers['if-modified-since'] = o.lastModified;
      const res = await request(current, {
        method: 'GET',
        headers,
        signal,
        maxRedirections: 0,
        ...(o.dispatcher ? { dispatcher: o.dispatcher } : {}),
      });
      const h = res.headers;
      res.body.on('error', () => undefined); // errors surface through dump/pipeline; a late one is noise
      if (res.statusCode >= 300 && res.statusCode < 400 && res.statusCode !== 304) {
        await res.body.dump();
        const location = header(h, 'location');
        if (!location)
          return { kind: 'error', status: res.statusCode, message: `HTTP ${res.statusCode} without Location` };
        if (hop >= o.maxRedirects)
          return { kind: 'error', status: res.statusCode, message: `more than ${o.maxRedirects} redirects` };
        if (res.statusCode !== 301 && res.statusCode !== 308) permanent = false;
        current = new URL(location, current).toString();
        continue;
      }
      if (res.statusCode === 304) {
        // a 304 never has a body, but servers may still send Content-Length: waiting for it would stall
        res.body.destroy();
        return { kind: 'not_modified', status: 304 };
      }
      if (res.statusCode === 429 || res.statusCode === 503) {
        await res.body.dump();
        return {
          kind: 'retry_later',
          status: res.statusCode,
          retryAfterMs: retryAfterMs(h['retry-after']),
          message: `HTTP ${res.statusCode}${h['retry-after'] ? ` (Retry-After: ${header(h, 'retry-after')})` : ''}`,
        };
      }
      if (res.statusCode !== 200) {
        await res.body.dump();
        return { kind: 'error', status: res.statusCode, message: `HTTP ${res.statusCode}` };
      }
      const declaredLength = Number(header(h, 'content-length') ?? Number.NaN);
      const encoding = (header(h, 'content-encoding') ?? 'identity').trim().toLowerCase();
      if (encoding === 'identity' && declaredLength > o.maxBytes) {
        res.body.destroy();
        return {
          kind: 'error',
          status: 200,
          message: `body of ${declaredLength} bytes is over the ${o.maxBytes}-byte cap`,
        };
      }
      const decoder =
        encoding === 'gzip' || encoding === 'x-gzip'
          ? zlib.createGunzip()
          : encoding === 'deflate'
            ? zlib.createInflate()
            : encoding === 'br'
              ? zlib.createBrotliDecompress()
              : encoding === 'identity'
                ? null
                : undefined;
      if (decoder === undefined) {
        res.body.destroy();
        return { kind: 'error', status: 200, message: `unsupported Content-Encoding ${encoding}` };
      }
      const chunks: Buffer[] = [];
      let size = 0;
      const sink = new Writable({
        write(chunk: Buffer, _enc, done) {
          size += chunk.length;
          if (size > o.maxBytes) return done(new TooLarge());
          chunks.push(chunk);
          done();
        },
      });
      try {
        if (decoder) await pipeline(res.body, decoder, sink);
        else await pipeline(res.body, sink);
      } catch (e) {
        if (e instanceof TooLarge)
          return { kind: 'error', status: 200, message: `body over the ${o.maxBytes}-byte cap (after decoding)` };
        if (signal.aborted)
          return { kind: 'error', status: 200, message: `body not complete within ${o.timeoutMs} ms` };
        return { kind: 'error', status: 200, message: `body could not be read (${encoding}): ${(e as Error).message}` };
      }
      const charset = /charset\s*=\s*"?([\w.:-]+)/i.exec(header(h, 'content-type') ?? '')?.[1] ?? null;
      return {
        kind: 'body',
        status: 200,
        body: Buffer.concat(chunks),
        etag: header(h, 'etag'),
        lastModified: header(h, 'last-modified'),
        charset,
        finalUrl: current,
        permanentlyMoved: hop > 0 && permanent,
      };
    }
  } catch (e) {
    if (signal.aborted) return { kind: 'error', status: null, message: `no answer within ${o.timeoutMs} ms` };
    const err = e as Error & { code?: string };
    return { kind: 'error', status: null, message: `${err.code ?? err.name}: ${err.message}` };
  } finally {
    clearTimeout(deadline);
  }
}
