import { type EnvIssue, type EnvSchema, type EnvVar, rawValue, showValue } from './define-env.ts';

/** One variable of the composed registry: its definition, its owner, who else reads it. */
export interface EnvEntry {
  name: string;
  owner: string;
  /** packages whose schema lists it (the owner first) */
  readBy: string[];
  default: string;
  doc: string;
  secret: boolean;
  deprecatedNames: readonly string[];
  def: EnvVar;
}

export interface ComposedEnv {
  entries: EnvEntry[];
  /** two definitions of one name, a deprecated name that is also a name, a name deprecated twice */
  conflicts: string[];
  /** the problems of every schema over `env` (each variable once) */
  check(env?: NodeJS.ProcessEnv): EnvIssue[];
}

const show = (x: unknown): string =>
  Array.isArray(x) ? x.join(',') : typeof x === 'string' ? x : x === undefined ? '' : String(x);

/** The default as documented: the spec's text, else what the schema gives for an unset variable. */
export function defaultText(v: EnvVar): string {
  if (v.default !== undefined) return v.default;
  const r = v.schema.safeParse(undefined);
  return r.success ? show(r.data) : '(required)';
}

function sameDefinition(a: EnvVar, b: EnvVar): boolean {
  if (a === b) return true;
  return (
    a.owner === b.owner &&
    a.doc === b.doc &&
    defaultText(a) === defaultText(b) &&
    Boolean(a.secret) === Boolean(b.secret) &&
    (a.deprecatedNames ?? []).join() === (b.deprecatedNames ?? []).join()
  );
}

/** Every package's schema in one registry, sorted by name; the conflicts are reported, not thrown. */
export function composeEnv(schemas: readonly EnvSchema<unknown>[]): ComposedEnv {
  const byName = new Map<string, EnvEntry>();
  const conflicts: string[] = [];
  for (const s of schemas) {
    for (const v of s.vars) {
      const seen = byName.get(v.name);
      if (!seen) {
        byName.set(v.name, {
          name: v.name,
          owner: v.owner,
          readBy: [v.owner, ...(s.package === v.owner ? [] : [s.package])],
          default: defaultText(v),
          doc: v.doc,
          secret: Boolean(v.secret),
          deprecatedNames: v.deprecatedNames ?? [],
          def: v,
        });
        continue;
      }
      if (!sameDefinition(seen.def, v))
        conflicts.push(`${v.name}: defined by ${seen.owner} and again by ${v.owner} (in ${s.package})`);
      if (!seen.readBy.includes(s.package)) seen.readBy.push(s.package);
    }
  }
  const oldNames = new Map<string, string>();
  for (const e of byName.values()) {
    for (const old of e.deprecatedNames) {
      if (byName.has(old)) conflicts.push(`${old}: a variable of its own and a deprecated name of ${e.name}`);
      const other = oldNames.get(old);
      if (other && other !== e.name) conflicts.push(`${old}: deprecated name of both ${other} and ${e.name}`);
      oldNames.set(old, e.name);
    }
  }
  const entries = [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  return {
    entries,
    conflicts,
    check(env?: NodeJS.ProcessEnv) {
      const issues = new Map<string, EnvIssue>();
      for (const s of schemas) for (const i of s.check(env)) issues.set(i.name, i);
      return [...issues.values()];
    },
  };
}

/** The current value as it may be printed: secrets masked, the deprecated name it came from said. */
export function currentValue(e: EnvEntry, env?: NodeJS.ProcessEnv): string {
  const { value, from } = rawValue(e.def, env ?? process.env);
  if (value === undefined) return '';
  const shown = showValue(e.def, value);
  return from === e.name ? shown : `${shown} (from ${from})`;
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (s: string) => (s === '' ? '' : `\`${s}\``);

/** The Markdown table README's configuration section holds (generated; see `feedlog config --docs`). */
export function envMarkdown(entries: readonly EnvEntry[]): string {
  const lines = ['| variable | default | package | meaning |', '|---|---|---|---|'];
  for (const e of entries) {
    const old = e.deprecatedNames.length
      ? ` (old name${e.deprecatedNames.length > 1 ? 's' : ''}: ${e.deprecatedNames.map(code).join(', ')}, deprecated)`
      : '';
    const secret = e.secret ? ' Secret: never printed.' : '';
    const pkg = e.owner.replace('@feedlog/', '');
    lines.push(`| ${code(e.name)} | ${cell(code(e.default))} | ${pkg} | ${cell(e.doc)}${old}${secret} |`);
  }
  return `${lines.join('\n')}\n`;
}

export const DOCS_BEGIN = '<!-- feedlog config --docs: begin (generated, do not edit) -->';
export const DOCS_END = '<!-- feedlog config --docs: end -->';

/** `text` with the part between the markers replaced by `table`; throws when the markers are missing. */
export function replaceDocsSection(text: string, table: string): string {
  const a = text.indexOf(DOCS_BEGIN);
  const b = text.indexOf(DOCS_END);
  if (a < 0 || b < a) throw new Error(`markers not found: ${DOCS_BEGIN} … ${DOCS_END}`);
  return `${text.slice(0, a + DOCS_BEGIN.length)}\n${table}${text.slice(b)}`;
}
