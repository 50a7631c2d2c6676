/**
 * Headline normalisation: lower-case, strip diacritics, drop wire-service boilerplate and
 * truncation marks, split on anything that is not a letter or digit, drop stop words,
 * fold possessives and simple plurals. Deterministic and locale-independent.
 */

// Function words plus headline boilerplate that carries no story identity.
const STOP = new Set(
  (
    'a about above after again against all also am an and any are as at be because been before being below between ' +
    'both but by can could did do does doing down during each few for from further had has have having he her here ' +
    'hers him his how i if in into is it its itself just me more most my no nor not now of off on once only or other ' +
    'our out over own same she should so some such than that the their them then there these they this those through ' +
    'to too under until up very was we were what when where which while who whom why will with would you your ' +
    'says said say new update updated video videos watch photo photos pictures report reports via amp vs'
  ).split(' '),
);

const BOILERPLATE = /^\s*(?:update|updated|corrected|refile|exclusive|breaking|video|watch)\s*\d*\s*[-:–—]\s*/i;

/** Folds a word: possessive 's, simple plural/3rd-person -s (not -ss, -us, -is), -ies → -y. */
export function stem(w: string): string {
  if (w.length <= 3) return w;
  if (w.endsWith('ies') && w.length > 4) return `${w.slice(0, -3)}y`;
  if (w.endsWith('s') && !w.endsWith('ss') && !w.endsWith('us') && !w.endsWith('is')) return w.slice(0, -1);
  return w;
}

/** Normalised content tokens of a headline, in order (duplicates kept). */
export function tokenize(title: string): string[] {
  const text = title
    .replace(BOILERPLATE, ' ')
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/['’‘`]s\b/g, '') // possessive
    .replace(/['’‘`]/g, '') // don't → dont, o'brien → obrien
    .replace(/(\d)[.,](\d)/g, '$1$2'); // 1,800 / 1.8 → one token
  const out: string[] = [];
  for (const raw of text.split(/[^\p{L}\p{N}]+/u)) {
    if (raw.length === 0) continue;
    if (raw.length === 1 && !/\d/.test(raw)) continue;
    if (STOP.has(raw)) continue;
    out.push(stem(raw));
  }
  return out;
}

/** Distinct features of a headline: unigrams, optionally adjacent-pair bigrams ("a_b"). */
export function features(title: string, bigrams: boolean): string[] {
  const toks = tokenize(title);
  const seen = new Set<string>();
  const out: string[] = [];
  const add = (f: string) => {
    if (!seen.has(f)) {
      seen.add(f);
      out.push(f);
    }
  };
  for (const t of toks) add(t);
  if (bigrams) for (let i = 1; i < toks.length; i++) add(`${toks[i - 1]}_${toks[i]}`);
  return out;
}

/**
 * Named-entity tokens of a title, cheaply: the normalised tokens of its capitalised words other than
 * the first word (headline case capitalises the first word whatever it is). Distinct, in order.
 * A Title-Case headline makes every word an "entity": the stop-word filter of `tokenize` removes
 * the commonest, the rest only dilutes the overlap share.
 */
export function entities(title: string): string[] {
  const words = title.split(/\s+/u).filter(Boolean);
  const out = new Set<string>();
  for (const w of words.slice(1)) if (/^[\p{Lu}\p{Lt}]/u.test(w)) for (const t of tokenize(w)) out.add(t);
  return [...out];
}
