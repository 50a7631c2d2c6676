import { channel } from 'node:diagnostics_channel';
import type { z } from 'zod';

/**
 * One environment variable: its parser (a zod schema over the raw string, with the default), a
 * one-line doc, the names it used to have, whether its value is a secret. `defineEnv` gives it its
 * name and owning package; a package that reads another's variable reuses that `EnvVar` object, so
 * one name has one definition (the registry test checks it).
 */
export interface EnvVarSpec<T> {
  /** parses the raw value (undefined when unset); `.default(…)` supplies the default */
  schema: z.ZodType<T, string | undefined>;
  doc: string;
  /** the default as documented, when the schema cannot say it (derived: `127.0.0.1:${KAFKA_PORT}`) */
  default?: string;
  /** older names still read, with one deprecation warning per process, when this one is unset */
  deprecatedNames?: readonly string[];
  /** masked in `feedlog config` and in error messages */
  secret?: boolean;
  /** false: set but empty is an error (a client address), not "unset" (the default) */
  emptyIsUnset?: boolean;
}

export interface EnvVar<T = unknown> extends EnvVarSpec<T> {
  readonly name: string;
  /** the package that defines it (`@feedlog/runtime`) */
  readonly owner: string;
}

export interface EnvIssue {
  name: string;
  message: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly retriable = false;
  constructor(
    message: string,
    readonly issues: readonly EnvIssue[] = [],
  ) {
    super(message);
  }
}

type Input = EnvVarSpec<unknown> | EnvVar<unknown>;
export type EnvValues<S extends Record<string, Input>> = {
  [K in keyof S]: S[K] extends EnvVarSpec<infer T> ? T : never;
};

export interface EnvSchema<T = Record<string, unknown>> {
  /** the package whose schema this is */
  readonly package: string;
  /** every variable it reads: its own and those it reuses from other packages */
  readonly vars: readonly EnvVar[];
  /** the typed values; throws ConfigError naming every bad variable at once */
  parse(env?: NodeJS.ProcessEnv): T;
  /** the problems parse would throw for, without throwing */
  check(env?: NodeJS.ProcessEnv): EnvIssue[];
}

/** Published once per deprecated name and process: `{ name, use }` (see warnDeprecated). */
export const deprecatedEnvChannel = channel('feedlog:config.deprecated');
const warned = new Set<string>();

/**
 * One warning per deprecated name and process: to the `feedlog:config.deprecated` diagnostics
 * channel when a process logger listens, otherwise as one Node DeprecationWarning on stderr.
 */
function warnDeprecated(name: string, use: string, ignored: boolean): void {
  if (warned.has(name)) return;
  warned.add(name);
  const message = ignored
    ? `${name} is deprecated and ignored because ${use} is set; remove it`
    : `${name} is deprecated: set ${use} instead (the old name is read for one more release)`;
  if (deprecatedEnvChannel.hasSubscribers) deprecatedEnvChannel.publish({ name, use, message });
  else process.emitWarning(message, { type: 'DeprecationWarning', code: 'FEEDLOG_ENV_DEPRECATED' });
}

/** Tests: forget which deprecation warnings were given. */
export function resetDeprecationWarnings(): void {
  warned.clear();
}

/**
 * The raw value of `v` and the name it came from. Its own name wins whenever it is in the
 * environment, even empty (a parent clearing STAGE_HEALTH_PORT for a child also clears an inherited
 * HEALTH_PORT); a deprecated name is read only when the own name is absent. Empty means unset
 * unless `emptyIsUnset` is false.
 */
export function rawValue(v: EnvVar, env: NodeJS.ProcessEnv): { value: string | undefined; from: string } {
  const own = env[v.name];
  for (const old of v.deprecatedNames ?? []) {
    const value = env[old];
    if (value === undefined || value === '') continue;
    warnDeprecated(old, v.name, own !== undefined);
    if (own === undefined) return { value, from: old };
  }
  if (own === '' && v.emptyIsUnset !== false) return { value: undefined, from: v.name };
  return { value: own, from: v.name };
}

/** A value as it may be printed: a secret as ***, a password inside a URL (DATABASE_URL) as *** too. */
export function showValue(v: EnvVar, value: string | undefined): string {
  if (value === undefined) return '(unset)';
  if (v.secret) return '***';
  return JSON.stringify(value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@/\s]*@/i, '$1***@'));
}

function parseOne(v: EnvVar, env: NodeJS.ProcessEnv): { ok: true; value: unknown } | { ok: false; issue: EnvIssue } {
  const { value, from } = rawValue(v, env);
  if (value === '' && v.emptyIsUnset === false)
    return { ok: false, issue: { name: from, message: `${from} is set but empty (unset it for the default)` } };
  const r = v.schema.safeParse(value);
  if (r.success) return { ok: true, value: r.data };
  const why = r.error.issues.map((i) => i.message).join('; ');
  return { ok: false, issue: { name: from, message: `${from}=${showValue(v, value)}: ${why}` } };
}

/**
 * A package's environment schema. `spec` maps each name to a new variable (`{ schema, doc, … }`)
 * or to a variable another package defined (its `EnvVar`, reused as is).
 */
export function defineEnv<S extends Record<string, Input>>(pkg: string, spec: S): EnvSchema<EnvValues<S>> {
  const vars: EnvVar[] = Object.entries(spec).map(([name, s]) => {
    if ('owner' in s) {
      if (s.name !== name) throw new Error(`${pkg}: ${name} reuses the definition of ${s.name}`);
      return s;
    }
    return Object.freeze({ ...s, name, owner: pkg });
  });
  // the process's environment unless told otherwise: the one place a schema reads process.env
  const run = (env: NodeJS.ProcessEnv = process.env) => {
    const values: Record<string, unknown> = {};
    const issues: EnvIssue[] = [];
    for (const v of vars) {
      const r = parseOne(v, env);
      if (r.ok) values[v.name] = r.value;
      else issues.push(r.issue);
    }
    return { values, issues };
  };
  return {
    package: pkg,
    vars,
    parse(env) {
      const { values, issues } = run(env);
      if (issues.length)
        throw new ConfigError(
          `invalid configuration (${pkg}):\n${issues.map((i) => `  ${i.message}`).join('\n')}`,
          issues,
        );
      return values as EnvValues<S>;
    },
    check: (env) => run(env).issues,
  };
}

/** The variables of `schema`, by name, for another package to reuse: `defineEnv('@x', { FOO: common.var('FOO') })`. */
export function envVar<T, K extends keyof T & string>(schema: EnvSchema<T>, name: K): EnvVar<T[K]> & EnvVarSpec<T[K]> {
  const v = schema.vars.find((x) => x.name === name);
  if (!v) throw new Error(`${schema.package} defines no ${name}`);
  return v as EnvVar<T[K]> & EnvVarSpec<T[K]>;
}

/** One variable's typed value; throws ConfigError naming it (for a library that reads one setting). */
export function readEnvVar<T>(v: EnvVarSpec<T> & EnvVar<T>, env?: NodeJS.ProcessEnv): T {
  const r = parseOne(v, env ?? process.env);
  if (!r.ok) throw new ConfigError(`invalid configuration (${v.owner}):\n  ${r.issue.message}`, [r.issue]);
  return r.value as T;
}
