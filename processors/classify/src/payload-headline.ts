import type { Classification, ClassifiedHeadline, Headline, RawHeadline } from '@feedlog/schemas';

/**
 * The headline fields the classify stage reads of every record: the model's text and the event
 * time. The rest of a record (ids, source, guid, url) is only copied, as bytes, to the output.
 */
export const READ_FIELDS = ['title', 'summary', 'published_at', 'ingested_at'] as const;
export type ReadFields = Pick<Headline, (typeof READ_FIELDS)[number]>;

/** How a payload is read: the projection of READ_FIELDS, and the whole value on demand. */
export interface PayloadReaders {
  read(payload: Buffer): { headline: ReadFields };
  full(payload: Buffer): RawHeadline;
}

/**
 * A RawHeadline read from a payload written with the local schema, decoding only what the stage
 * reads: the READ_FIELDS now (one avsc projection: the other strings are skipped, not made), every
 * other field on first use (the whole payload decoded once). A real RawHeadline for any reader
 * (accessors, `toJSON`), so a fallback path (a whole-value encode, a log line) sees every field.
 * Any assignment, to it or its headline, first decodes the whole value and marks it changed: its
 * payload no longer stands for it (`payloadOf`).
 */
export class PayloadRawHeadline implements RawHeadline {
  readonly #payload: Buffer;
  readonly #readers: PayloadReaders;
  #full: RawHeadline | undefined;
  #changed = false;
  #headline: Headline;

  constructor(payload: Buffer, readers: PayloadReaders) {
    this.#payload = payload;
    this.#readers = readers;
    this.#headline = new PayloadHeadline(this, readers.read(payload).headline);
  }

  /** The whole value, decoded once. */
  full(): RawHeadline {
    this.#full ??= this.#readers.full(this.#payload);
    return this.#full;
  }

  /** The whole value, from now on the one every accessor reads and writes. */
  change(): RawHeadline {
    this.#changed = true;
    return this.full();
  }

  /** The payload, while the value is still the one it was decoded from. */
  get payload(): Buffer | undefined {
    return this.#changed ? undefined : this.#payload;
  }

  get item_id(): string {
    return this.full().item_id;
  }
  set item_id(v: string) {
    this.change().item_id = v;
  }
  get job_id(): string {
    return this.full().job_id;
  }
  set job_id(v: string) {
    this.change().job_id = v;
  }
  get headline(): Headline {
    return this.#headline;
  }
  set headline(v: Headline) {
    this.change();
    this.#headline = v;
  }

  toJSON(): RawHeadline {
    return { item_id: this.item_id, job_id: this.job_id, headline: headlineJSON(this.headline) };
  }
}

/** The headline of a PayloadRawHeadline: READ_FIELDS from the projection, the rest from the whole value. */
class PayloadHeadline implements Headline {
  readonly #owner: PayloadRawHeadline;
  /** the projection until a change, then the whole value's headline */
  #read: ReadFields;

  constructor(owner: PayloadRawHeadline, read: ReadFields) {
    this.#owner = owner;
    this.#read = read;
  }

  #change(): Headline {
    const h = this.#owner.change().headline;
    this.#read = h;
    return h;
  }

  get title(): string {
    return this.#read.title;
  }
  set title(v: string) {
    this.#change().title = v;
  }
  get summary(): string | null {
    return this.#read.summary;
  }
  set summary(v: string | null) {
    this.#change().summary = v;
  }
  get published_at(): number | null {
    return this.#read.published_at;
  }
  set published_at(v: number | null) {
    this.#change().published_at = v;
  }
  get ingested_at(): number {
    return this.#read.ingested_at;
  }
  set ingested_at(v: number) {
    this.#change().ingested_at = v;
  }
  get source(): string {
    return this.#owner.full().headline.source;
  }
  set source(v: string) {
    this.#change().source = v;
  }
  get guid(): string | null {
    return this.#owner.full().headline.guid;
  }
  set guid(v: string | null) {
    this.#change().guid = v;
  }
  get url(): string {
    return this.#owner.full().headline.url;
  }
  set url(v: string) {
    this.#change().url = v;
  }

  toJSON(): Headline {
    return headlineJSON(this);
  }
}

function headlineJSON(h: Headline): Headline {
  return {
    source: h.source,
    guid: h.guid,
    url: h.url,
    title: h.title,
    summary: h.summary,
    published_at: h.published_at,
    ingested_at: h.ingested_at,
  };
}

/**
 * The classify stage's output for a PayloadRawHeadline: its fields (read through, never copied,
 * so nothing is decoded for them) and the classification. Assigning item_id, job_id or headline
 * detaches it from the input (`payloadOf` is then undefined).
 */
class PayloadClassified implements ClassifiedHeadline {
  #from: PayloadRawHeadline;
  #own: RawHeadline | undefined;
  classification: Classification;

  constructor(from: PayloadRawHeadline, classification: Classification) {
    this.#from = from;
    this.classification = classification;
  }

  #detach(): RawHeadline {
    this.#own ??= { item_id: this.#from.item_id, job_id: this.#from.job_id, headline: this.#from.headline };
    return this.#own;
  }

  /** The input's payload while this output's leading fields are still exactly the input's. */
  get payload(): Buffer | undefined {
    return this.#own ? undefined : this.#from.payload;
  }

  get item_id(): string {
    return (this.#own ?? this.#from).item_id;
  }
  set item_id(v: string) {
    this.#detach().item_id = v;
  }
  get job_id(): string {
    return (this.#own ?? this.#from).job_id;
  }
  set job_id(v: string) {
    this.#detach().job_id = v;
  }
  get headline(): Headline {
    return (this.#own ?? this.#from).headline;
  }
  set headline(v: Headline) {
    this.#detach().headline = v;
  }

  toJSON(): ClassifiedHeadline {
    return {
      item_id: this.item_id,
      job_id: this.job_id,
      headline: headlineJSON(this.headline),
      classification: this.classification,
    };
  }
}

/**
 * The output for input `v`: for a PayloadRawHeadline one that reads its fields through (the
 * output codec then copies the input's payload), else a plain object with the same fields.
 */
export function classifiedOf(v: RawHeadline, classification: Classification): ClassifiedHeadline {
  if (v instanceof PayloadRawHeadline) return new PayloadClassified(v, classification);
  return { item_id: v.item_id, job_id: v.job_id, headline: v.headline, classification };
}

/**
 * The payload an output's leading fields (item_id, job_id, headline) are the bytes of: the input's
 * local payload, when the output came from `classifiedOf` of a PayloadRawHeadline and neither was
 * changed since. Else undefined (the whole output is encoded).
 */
export function payloadOf(v: ClassifiedHeadline): Buffer | undefined {
  return v instanceof PayloadClassified ? v.payload : undefined;
}
