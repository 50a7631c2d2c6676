import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ConfigError,
  defineEnv,
  deprecatedEnvChannel,
  envVar,
  readEnvVar,
  resetDeprecationWarnings,
} from './define-env.ts';
import { composeEnv, currentValue, DOCS_BEGIN, DOCS_END, envMarkdown, replaceDocsSection } from './env-compose.ts';
import { bool, int, list, oneOf, port, str, url } from './env-parsers.ts';

const demo = defineEnv('@feedlog/demo', {
  DEMO_PORT: { schema: port().default(8080), doc: 'a port' },
  DEMO_ON: { schema: bool().default(false), doc: 'a switch' },
  DEMO_HOSTS: {
    schema: list({ pattern: /^[^:]+:\d+$/, what: 'host:port' }).optional(),
    emptyIsUnset: false,
    doc: 'hosts',
  },
  DEMO_MODE: { schema: oneOf(['a', 'b']).default('a'), doc: 'a mode' },
  DEMO_URL: { schema: url().optional(), doc: 'a URL' },
  DEMO_TOKEN: { schema: str().optional(), secret: true, doc: 'a token' },
  DEMO_PREFIX: { schema: str().optional(), deprecatedNames: ['OLD_PREFIX'], doc: 'a prefix' },
});

function issuesOf(env: NodeJS.ProcessEnv): string {
  try {
    demo.parse(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('defineEnv', () => {
  it('gives typed values and the defaults of unset (or empty) variables', () => {
    const v = demo.parse({ DEMO_PORT: '9000', DEMO_ON: 'true', DEMO_HOSTS: 'a:1, b:2', DEMO_MODE: '', DEMO_URL: '' });
    expect(v).toEqual({
      DEMO_PORT: 9000,
      DEMO_ON: true,
      DEMO_HOSTS: ['a:1', 'b:2'],
      DEMO_MODE: 'a',
      DEMO_URL: undefined,
      DEMO_TOKEN: undefined,
      DEMO_PREFIX: undefined,
    });
    expect(demo.vars.map((x) => x.owner)).toEqual(Array(7).fill('@feedlog/demo'));
  });

  it('names every bad variable at once, with the value (never a secret one)', () => {
    const m = issuesOf({ DEMO_PORT: '70000', DEMO_ON: 'yes', DEMO_MODE: 'c', DEMO_URL: 'ftp://x', DEMO_TOKEN: ' ' });
    expect(m).toMatch(/DEMO_PORT="70000": expected an integer from 1 to 65535/);
    expect(m).toMatch(/DEMO_ON="yes": expected true, false, 1 or 0/);
    expect(m).toMatch(/DEMO_MODE="c": expected one of a, b/);
    expect(m).toMatch(/DEMO_URL="ftp:\/\/x": expected a http\/https URL/);
    expect(m).toMatch(/DEMO_TOKEN=\*\*\*: must not be blank/);
    expect(demo.check({ DEMO_PORT: '0', DEMO_ON: '1' }).map((i) => i.name)).toEqual(['DEMO_PORT']);
  });

  it('is strict about numbers and booleans: no NaN, no silent false', () => {
    for (const bad of ['80x0', '1e3', '0x10', '12.5', ' ', '-1'])
      expect(demo.check({ DEMO_PORT: bad })).toHaveLength(1);
    for (const bad of ['yes', 'on', 'TRUEE', '2']) expect(demo.check({ DEMO_ON: bad })).toHaveLength(1);
    expect(demo.parse({ DEMO_ON: '0' }).DEMO_ON).toBe(false);
    expect(demo.parse({ DEMO_ON: 'FALSE' }).DEMO_ON).toBe(false);
    expect(int({ min: 0 }).safeParse('-1').success).toBe(false);
  });

  it('refuses a set-but-empty list where empty is not "unset" (a client address)', () => {
    expect(issuesOf({ DEMO_HOSTS: '' })).toMatch(/DEMO_HOSTS is set but empty/);
    expect(issuesOf({ DEMO_HOSTS: ' , ' })).toMatch(/DEMO_HOSTS=" , ": expected a comma-separated list/);
    expect(issuesOf({ DEMO_HOSTS: 'a:1,b' })).toMatch(/each entry must be host:port: b/);
  });

  it('reuses another package’s variable as is, and refuses one under another name', () => {
    const other = defineEnv('@feedlog/other', { DEMO_PORT: envVar(demo, 'DEMO_PORT') });
    expect(other.vars[0]).toBe(demo.vars[0]);
    expect(other.vars[0]?.owner).toBe('@feedlog/demo');
    expect(other.parse({ DEMO_PORT: '1' }).DEMO_PORT).toBe(1);
    expect(() => defineEnv('@feedlog/x', { OTHER: envVar(demo, 'DEMO_PORT') })).toThrow(/reuses the definition/);
    expect(readEnvVar(envVar(demo, 'DEMO_MODE'), { DEMO_MODE: 'b' })).toBe('b');
    expect(() => readEnvVar(envVar(demo, 'DEMO_MODE'), { DEMO_MODE: 'z' })).toThrow(ConfigError);
  });
});

describe('deprecated names', () => {
  const messages: string[] = [];
  const listen = (m: unknown) => messages.push((m as { message: string }).message);
  beforeEach(() => {
    messages.length = 0;
    resetDeprecationWarnings();
    deprecatedEnvChannel.subscribe(listen);
  });
  afterEach(() => deprecatedEnvChannel.unsubscribe(listen));

  it('reads the old name when the new one is absent, warning once per process', () => {
    expect(demo.parse({ OLD_PREFIX: 'it-' }).DEMO_PREFIX).toBe('it-');
    expect(demo.parse({ OLD_PREFIX: 'it-' }).DEMO_PREFIX).toBe('it-');
    expect(messages).toEqual([
      'OLD_PREFIX is deprecated: set DEMO_PREFIX instead (the old name is read for one more release)',
    ]);
  });

  it('prefers the new name whenever it is present, even empty, and says the old one is ignored', () => {
    expect(demo.parse({ OLD_PREFIX: 'old-', DEMO_PREFIX: 'new-' }).DEMO_PREFIX).toBe('new-');
    // a parent clearing the new name for a child also clears the inherited old one
    expect(demo.parse({ OLD_PREFIX: 'old-', DEMO_PREFIX: '' }).DEMO_PREFIX).toBeUndefined();
    expect(messages).toEqual(['OLD_PREFIX is deprecated and ignored because DEMO_PREFIX is set; remove it']);
  });

  it('names the old variable in a parse error', () => {
    const strict = defineEnv('@feedlog/s', {
      NEW_PORT: { schema: port().optional(), deprecatedNames: ['OLD_PORT'], doc: 'p' },
    });
    expect(strict.check({ OLD_PORT: 'x' })).toEqual([
      { name: 'OLD_PORT', message: 'OLD_PORT="x": expected an integer from 1 to 65535' },
    ]);
  });
});

describe('composeEnv', () => {
  it('lists each variable once with its owner and readers', () => {
    const other = defineEnv('@feedlog/other', {
      DEMO_PORT: envVar(demo, 'DEMO_PORT'),
      OWN: { schema: str().default('x'), doc: 'own' },
    });
    const c = composeEnv([demo, other]);
    expect(c.conflicts).toEqual([]);
    const port = c.entries.find((e) => e.name === 'DEMO_PORT');
    expect(port).toMatchObject({
      owner: '@feedlog/demo',
      readBy: ['@feedlog/demo', '@feedlog/other'],
      default: '8080',
    });
    expect(c.entries.map((e) => e.name)).toEqual([...c.entries.map((e) => e.name)].sort());
    expect(c.check({ DEMO_PORT: 'x' }).map((i) => i.name)).toEqual(['DEMO_PORT']);
  });

  it('reports one name defined twice differently, and an old name that is also a name', () => {
    const twice = defineEnv('@feedlog/twice', {
      DEMO_PORT: { schema: port().default(9090), doc: 'another port' },
      OLD_PREFIX: { schema: str().optional(), doc: 'clash' },
    });
    const c = composeEnv([demo, twice]);
    expect(c.conflicts).toEqual([
      'DEMO_PORT: defined by @feedlog/demo and again by @feedlog/twice (in @feedlog/twice)',
      'OLD_PREFIX: a variable of its own and a deprecated name of DEMO_PREFIX',
    ]);
  });

  it('masks secrets and URL passwords in current values', () => {
    const c = composeEnv([demo]);
    const entry = (n: string) => c.entries.find((e) => e.name === n)!;
    expect(currentValue(entry('DEMO_TOKEN'), { DEMO_TOKEN: 'sk-123' })).toBe('***');
    expect(currentValue(entry('DEMO_URL'), { DEMO_URL: 'http://u:pw@h/x' })).toBe('"http://u:***@h/x"');
    expect(currentValue(entry('DEMO_PREFIX'), { OLD_PREFIX: 'p-' })).toBe('"p-" (from OLD_PREFIX)');
    expect(currentValue(entry('DEMO_PORT'), {})).toBe('');
  });

  it('writes the Markdown table between the markers only', () => {
    const table = envMarkdown(composeEnv([demo]).entries);
    expect(table).toMatch(/^\| variable \| default \| package \| meaning \|/);
    expect(table).toContain('| `DEMO_PREFIX` |  | demo | a prefix (old name: `OLD_PREFIX`, deprecated) |');
    expect(table).toContain('a token Secret: never printed.');
    const doc = `# x\n${DOCS_BEGIN}\nstale\n${DOCS_END}\nafter\n`;
    expect(replaceDocsSection(doc, table)).toBe(`# x\n${DOCS_BEGIN}\n${table}${DOCS_END}\nafter\n`);
    expect(() => replaceDocsSection('# no markers', table)).toThrow(/markers not found/);
  });
});
