import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRegistryApp } from '../src/app.ts';
import { call, databaseUrl, dropPgSchema, record, uniquePgSchema, V1 } from './helpers.ts';

const pgSchema = uniquePgSchema('reg_app');
let app: FastifyInstance;
let pool: pg.Pool;

const headline = (extra: unknown[] = []) =>
  record('Headline', [{ name: 'id', type: 'string' }, { name: 'title', type: 'string' }, ...extra]);

async function count(table: string): Promise<number> {
  const r = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${pgSchema}.${table}`);
  return Number(r.rows[0]?.n);
}

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: databaseUrl(), max: 10 });
  app = await buildRegistryApp({ pool, pgSchema });
});

afterAll(async () => {
  await app?.close();
  await pool?.end();
  await dropPgSchema(pgSchema);
});

describe('registration and identity', () => {
  it('accepts every Confluent content type and answers vnd.schemaregistry.v1+json', async () => {
    const cts = [V1, 'application/vnd.schemaregistry+json', 'application/json'];
    const ids = [];
    for (const ct of cts) {
      const r = await call(app, 'POST', '/subjects/ct-value/versions', { schema: headline() }, ct);
      expect(r.status).toBe(200);
      expect(r.contentType).toBe(V1);
      ids.push(r.json.id);
    }
    expect(new Set(ids).size).toBe(1);
    expect((await call(app, 'GET', '/subjects/ct-value/versions')).json).toEqual([1]);
  });

  it('maps whitespace and attribute-order variants to the same id and version', async () => {
    const a = await call(app, 'POST', '/subjects/same-value/versions', { schema: headline() });
    const pretty = JSON.stringify(JSON.parse(headline()), null, 4).replace('"type": "record",', '');
    const reordered = `{"type":"record",${pretty.slice(1)}`;
    const b = await call(app, 'POST', '/subjects/same-value/versions', { schema: reordered });
    expect(b.status).toBe(200);
    expect(b.json.id).toBe(a.json.id);
    expect((await call(app, 'GET', '/subjects/same-value/versions')).json).toEqual([1]);
    // the same schema under another subject keeps its id
    const c = await call(app, 'POST', '/subjects/other-value/versions', { schema: headline(), normalize: true });
    expect(c.json.id).toBe(a.json.id);
  });

  it('treats a doc change as a new schema (as Confluent does)', async () => {
    const a = await call(app, 'POST', '/subjects/doc-value/versions', { schema: headline() });
    const b = await call(app, 'POST', '/subjects/doc-value/versions', {
      schema: record('Headline', [
        { name: 'id', type: 'string', doc: 'item id' },
        { name: 'title', type: 'string' },
      ]),
    });
    expect(b.status).toBe(200);
    expect(b.json.id).not.toBe(a.json.id);
    expect((await call(app, 'GET', '/subjects/doc-value/versions')).json).toEqual([1, 2]);
  });

  it('looks a schema up under a subject', async () => {
    const reg = await call(app, 'POST', '/subjects/look-value/versions', { schema: headline() });
    const r = await call(app, 'POST', '/subjects/look-value', { schema: headline() });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ subject: 'look-value', id: reg.json.id, version: 1, schema: expect.any(String) });
    expect(JSON.parse(r.json.schema)).toEqual(JSON.parse(headline()));
    const missing = await call(app, 'POST', '/subjects/look-value', {
      schema: record('Other', [{ name: 'x', type: 'int' }]),
    });
    expect(missing.status).toBe(404);
    expect(missing.json.error_code).toBe(40403);
    const noSubject = await call(app, 'POST', '/subjects/nobody-value', { schema: headline() });
    expect(noSubject.json).toEqual({ error_code: 40401, message: "Subject 'nobody-value' not found." });
  });

  it('serves schemas by id', async () => {
    const { json } = await call(app, 'POST', '/subjects/byid-value/versions', { schema: headline() });
    const id = json.id;
    const s = await call(app, 'GET', `/schemas/ids/${id}?subject=byid-value`);
    expect(s.status).toBe(200);
    expect(JSON.parse(s.json.schema)).toEqual(JSON.parse(headline()));
    expect(s.json.schemaType).toBeUndefined();
    const raw = await call(app, 'GET', `/schemas/ids/${id}/schema`);
    expect(raw.json).toEqual(JSON.parse(headline()));
    expect((await call(app, 'GET', `/schemas/ids/${id}/subjects`)).json).toContain('byid-value');
    expect((await call(app, 'GET', `/schemas/ids/${id}/versions`)).json).toContainEqual({
      subject: 'byid-value',
      version: 1,
    });
    expect((await call(app, 'GET', '/schemas/types')).json).toEqual(['AVRO']);
  });
});

describe('bad input', () => {
  it('invalid schema JSON → 42201 and nothing stored', async () => {
    const before = [await count('schemas'), await count('subject_versions')];
    for (const schema of [
      '{"type": "record", "name": ',
      '{"type":"record","name":"R","fields":[{"name":"a","type":"nope"}]}',
      '',
    ]) {
      const r = await call(app, 'POST', '/subjects/bad-value/versions', { schema });
      expect(r.status).toBe(422);
      expect(r.json.error_code).toBe(42201);
      expect(typeof r.json.message).toBe('string');
    }
    expect([await count('schemas'), await count('subject_versions')]).toEqual(before);
    expect((await call(app, 'GET', '/subjects/bad-value/versions')).json.error_code).toBe(40401);
    expect((await call(app, 'GET', '/subjects')).json).not.toContain('bad-value');
    const nonAvro = await call(app, 'POST', '/subjects/bad-value/versions', { schema: '{}', schemaType: 'PROTOBUF' });
    expect(nonAvro.json.error_code).toBe(42201);
  });

  it('unknown subject / version / id → 40401 / 40402 / 40403; bad version → 42202', async () => {
    await call(app, 'POST', '/subjects/known-value/versions', { schema: headline() });
    expect((await call(app, 'GET', '/subjects/unknown-value/versions/1')).json).toEqual({
      error_code: 40401,
      message: "Subject 'unknown-value' not found.",
    });
    expect((await call(app, 'GET', '/subjects/known-value/versions/7')).json).toEqual({
      error_code: 40402,
      message: 'Version 7 not found.',
    });
    const id = await call(app, 'GET', '/schemas/ids/987654');
    expect(id.status).toBe(404);
    expect(id.json).toEqual({ error_code: 40403, message: 'Schema 987654 not found' });
    for (const v of ['abc', '0', '-2', '2147483648']) {
      const r = await call(app, 'GET', `/subjects/known-value/versions/${v}`);
      expect(r.status).toBe(422);
      expect(r.json.error_code).toBe(42202);
    }
    expect((await call(app, 'GET', '/subjects/known-value/versions/latest')).json.version).toBe(1);
    expect((await call(app, 'GET', '/subjects/known-value/versions/-1')).json.version).toBe(1);
    expect((await call(app, 'GET', '/nowhere')).json).toEqual({ error_code: 404, message: 'HTTP 404 Not Found' });
  });

  it('incompatible schema → 409 with the offending field, nothing stored', async () => {
    await call(app, 'POST', '/subjects/compat-value/versions', { schema: headline() });
    const before = await count('subject_versions');
    const r = await call(app, 'POST', '/subjects/compat-value/versions', {
      schema: headline([{ name: 'category', type: 'string' }]),
    });
    expect(r.status).toBe(409);
    expect(r.json.error_code).toBe(409);
    expect(r.json.message).toContain('READER_FIELD_MISSING_DEFAULT_VALUE');
    expect(r.json.message).toContain("The field 'category'");
    expect(await count('subject_versions')).toBe(before);
    const ok = await call(app, 'POST', '/subjects/compat-value/versions', {
      schema: headline([{ name: 'category', type: 'string', default: 'unknown' }]),
    });
    expect(ok.status).toBe(200);
  });

  it('checks compatibility on request, verbose or not', async () => {
    await call(app, 'POST', '/subjects/check-value/versions', { schema: headline() });
    const bad = {
      schema: record('Headline', [
        { name: 'id', type: 'int' },
        { name: 'title', type: 'string' },
      ]),
    };
    const terse = await call(app, 'POST', '/compatibility/subjects/check-value/versions/latest', bad);
    expect(terse.json).toEqual({ is_compatible: false });
    const verbose = await call(app, 'POST', '/compatibility/subjects/check-value/versions/1?verbose=true', bad);
    expect(verbose.json.is_compatible).toBe(false);
    expect(verbose.json.messages.join('\n')).toMatch(/TYPE_MISMATCH.*fieldPath:'id'/);
    const good = await call(app, 'POST', '/compatibility/subjects/check-value/versions/latest?verbose=true', {
      schema: headline([{ name: 'lang', type: ['null', 'string'], default: null }]),
    });
    expect(good.json).toEqual({ is_compatible: true, messages: [] });
    expect((await call(app, 'POST', '/compatibility/subjects/fresh-value/versions/latest', bad)).json).toEqual({
      is_compatible: true,
    });
    expect((await call(app, 'POST', '/compatibility/subjects/fresh-value/versions/3', bad)).json.error_code).toBe(
      40401,
    );
    expect((await call(app, 'POST', '/compatibility/subjects/check-value/versions/3', bad)).json.error_code).toBe(
      40402,
    );
  });
});

describe('config and mode', () => {
  it('global and subject compatibility levels as Confluent returns them', async () => {
    expect((await call(app, 'GET', '/config')).json).toEqual({ compatibilityLevel: 'BACKWARD' });
    const invalid = await call(app, 'PUT', '/config', { compatibility: 'SIDEWAYS' });
    expect(invalid.status).toBe(422);
    expect(invalid.json.error_code).toBe(42203);
    expect((await call(app, 'PUT', '/config/cfg-value', { compatibility: 'full' })).json).toEqual({
      compatibility: 'FULL',
    });
    expect((await call(app, 'GET', '/config/cfg-value')).json).toEqual({ compatibilityLevel: 'FULL' });
    const none = await call(app, 'GET', '/config/unset-value');
    expect(none.status).toBe(404);
    expect(none.json.error_code).toBe(40408);
    expect((await call(app, 'GET', '/config/unset-value?defaultToGlobal=true')).json).toEqual({
      compatibilityLevel: 'BACKWARD',
    });
    expect((await call(app, 'DELETE', '/config/cfg-value')).json).toEqual({ compatibilityLevel: 'FULL' });
    expect((await call(app, 'DELETE', '/config/cfg-value')).json.error_code).toBe(40401);
    expect((await call(app, 'PUT', '/config', { compatibility: 'NONE' })).json).toEqual({ compatibility: 'NONE' });
    expect((await call(app, 'GET', '/config')).json).toEqual({ compatibilityLevel: 'NONE' });
    // NONE lets an otherwise incompatible change through
    await call(app, 'POST', '/subjects/none-value/versions', { schema: headline() });
    const r = await call(app, 'POST', '/subjects/none-value/versions', {
      schema: record('Headline', [{ name: 'x', type: 'int' }]),
    });
    expect(r.status).toBe(200);
    expect((await call(app, 'DELETE', '/config')).json).toEqual({ compatibilityLevel: 'NONE' });
    expect((await call(app, 'GET', '/config')).json).toEqual({ compatibilityLevel: 'BACKWARD' });
  });

  it('READONLY refuses writes; IMPORT keeps given ids and advances the sequence', async () => {
    expect((await call(app, 'GET', '/mode')).json).toEqual({ mode: 'READWRITE' });
    expect((await call(app, 'PUT', '/mode', { mode: 'SOMETIMES' })).json.error_code).toBe(42204);
    expect((await call(app, 'PUT', '/mode', { mode: 'READONLY' })).json).toEqual({ mode: 'READONLY' });
    const ro = await call(app, 'POST', '/subjects/ro-value/versions', { schema: headline() });
    expect(ro.status).toBe(422);
    expect(ro.json.error_code).toBe(42205);
    expect((await call(app, 'PUT', '/mode', { mode: 'IMPORT' })).json.error_code).toBe(42205); // subjects exist
    expect((await call(app, 'PUT', '/mode?force=true', { mode: 'IMPORT' })).json).toEqual({ mode: 'IMPORT' });
    const imported = await call(app, 'POST', '/subjects/imported-value/versions', {
      schema: record('Imported', [{ name: 'a', type: 'int' }]),
      id: 100000,
      version: 4,
    });
    expect(imported.json).toEqual({ id: 100000 });
    expect((await call(app, 'GET', '/subjects/imported-value/versions')).json).toEqual([4]);
    expect((await call(app, 'PUT', '/mode', { mode: 'READWRITE' })).json).toEqual({ mode: 'READWRITE' });
    // a subject-level mode overrides the global one
    expect((await call(app, 'GET', '/mode/frozen-value')).json.error_code).toBe(40409);
    expect((await call(app, 'GET', '/mode/frozen-value?defaultToGlobal=true')).json).toEqual({ mode: 'READWRITE' });
    expect((await call(app, 'PUT', '/mode/frozen-value', { mode: 'READONLY' })).json).toEqual({ mode: 'READONLY' });
    expect((await call(app, 'POST', '/subjects/frozen-value/versions', { schema: headline() })).json.error_code).toBe(
      42205,
    );
    expect((await call(app, 'POST', '/subjects/thawed-value/versions', { schema: headline() })).status).toBe(200);
    expect((await call(app, 'DELETE', '/mode/frozen-value')).json).toEqual({ mode: 'READONLY' });
    expect((await call(app, 'POST', '/subjects/frozen-value/versions', { schema: headline() })).status).toBe(200);
    const withId = await call(app, 'POST', '/subjects/x-value/versions', { schema: headline(), id: 5 });
    expect(withId.json.error_code).toBe(42205);
    const next = await call(app, 'POST', '/subjects/after-import-value/versions', {
      schema: record('AfterImport', [{ name: 'a', type: 'int' }]),
    });
    expect(next.json.id).toBeGreaterThan(100000);
  });
});

describe('deletes', () => {
  it('soft then permanent, with Confluent codes; ids are never reused', async () => {
    const s = 'del-value';
    const v1 = await call(app, 'POST', `/subjects/${s}/versions`, { schema: headline() });
    const v2 = await call(app, 'POST', `/subjects/${s}/versions`, {
      schema: headline([{ name: 'lang', type: 'string', default: 'en' }]),
    });
    expect((await call(app, 'DELETE', `/subjects/${s}/versions/2?permanent=true`)).json.error_code).toBe(40407);
    expect((await call(app, 'DELETE', `/subjects/${s}/versions/2`)).json).toBe(2);
    expect((await call(app, 'DELETE', `/subjects/${s}/versions/2`)).json.error_code).toBe(40406);
    expect((await call(app, 'GET', `/subjects/${s}/versions/2`)).json.error_code).toBe(40402);
    expect((await call(app, 'GET', `/subjects/${s}/versions/2?deleted=true`)).json.id).toBe(v2.json.id);
    expect((await call(app, 'GET', `/subjects/${s}/versions`)).json).toEqual([1]);
    expect((await call(app, 'GET', `/subjects/${s}/versions?deleted=true`)).json).toEqual([1, 2]);
    expect((await call(app, 'GET', `/subjects/${s}/versions?deletedOnly=true`)).json).toEqual([2]);
    expect((await call(app, 'DELETE', `/subjects/${s}/versions/2?permanent=true`)).json).toBe(2);
    expect((await call(app, 'GET', `/subjects/${s}/versions/2?deleted=true`)).json.error_code).toBe(40402);
    expect((await call(app, 'DELETE', `/subjects/${s}/versions/9`)).json.error_code).toBe(40402);

    expect((await call(app, 'DELETE', `/subjects/${s}?permanent=true`)).json.error_code).toBe(40405);
    expect((await call(app, 'DELETE', `/subjects/${s}`)).json).toEqual([1]);
    expect((await call(app, 'DELETE', `/subjects/${s}`)).json.error_code).toBe(40404);
    expect((await call(app, 'GET', '/subjects')).json).not.toContain(s);
    expect((await call(app, 'GET', '/subjects?deleted=true')).json).toContain(s);
    expect((await call(app, 'GET', `/subjects/${s}/versions/latest`)).json.error_code).toBe(40401);
    // a soft-deleted schema still decodes by id
    expect((await call(app, 'GET', `/schemas/ids/${v1.json.id}`)).status).toBe(200);
    expect((await call(app, 'DELETE', `/subjects/${s}?permanent=true`)).json).toEqual([1]);
    expect((await call(app, 'GET', '/subjects?deleted=true')).json).not.toContain(s);
    expect((await call(app, 'DELETE', `/subjects/${s}`)).json.error_code).toBe(40401);

    // a brand-new schema never gets a number that was handed out before
    const fresh = await call(app, 'POST', `/subjects/${s}/versions`, {
      schema: record('Fresh', [{ name: 'n', type: 'long' }]),
    });
    const maxBefore =
      (await pool.query<{ m: number }>(`SELECT max(id) AS m FROM ${pgSchema}.schemas WHERE id <> $1`, [fresh.json.id]))
        .rows[0]?.m ?? 0;
    expect(fresh.json.id).toBeGreaterThan(maxBefore);
    expect((await call(app, 'GET', `/subjects/${s}/versions`)).json).toEqual([1]);
    // the permanently deleted schema no longer resolves by id…
    expect((await call(app, 'GET', `/schemas/ids/${v2.json.id}`)).json.error_code).toBe(40403);
    // …and re-registering it gives back its old id, never another schema's
    const again = await call(app, 'POST', '/subjects/del2-value/versions', {
      schema: headline([{ name: 'lang', type: 'string', default: 'en' }]),
    });
    expect(again.json.id).toBe(v2.json.id);
  });

  it('re-registering a soft-deleted schema makes a new version with the same id', async () => {
    const first = await call(app, 'POST', '/subjects/redo-value/versions', { schema: headline() });
    expect((await call(app, 'DELETE', '/subjects/redo-value/versions/1')).json).toBe(1);
    const again = await call(app, 'POST', '/subjects/redo-value/versions', { schema: headline() });
    expect(again.json.id).toBe(first.json.id);
    expect((await call(app, 'GET', '/subjects/redo-value/versions')).json).toEqual([2]);
    expect((await call(app, 'POST', '/subjects/redo-value', { schema: headline() })).json.version).toBe(2);
    // an invalid schema under a subject that does not exist: the subject is reported first
    expect((await call(app, 'POST', '/subjects/ghost-value', { schema: '{' })).json.error_code).toBe(40401);
    expect((await call(app, 'POST', '/subjects/redo-value', { schema: '{' })).json.error_code).toBe(42201);
  });

  it('stores and returns references, and refuses to delete a referenced version', async () => {
    const meta = JSON.stringify({
      type: 'record',
      name: 'feedlog.test.Meta',
      fields: [{ name: 'lang', type: 'string' }],
    });
    await call(app, 'POST', '/subjects/meta-value/versions', { schema: meta });
    const refs = [{ name: 'feedlog.test.Meta', subject: 'meta-value', version: 1 }];
    const schema = record('WithMeta', [{ name: 'meta', type: 'feedlog.test.Meta' }]);
    const r = await call(app, 'POST', '/subjects/withmeta-value/versions', { schema, references: refs });
    expect(r.status).toBe(200);
    expect((await call(app, 'GET', `/schemas/ids/${r.json.id}`)).json.references).toEqual(refs);
    expect((await call(app, 'GET', '/subjects/withmeta-value/versions/1')).json.references).toEqual(refs);
    expect((await call(app, 'POST', '/subjects/withmeta-value', { schema, references: refs })).json.id).toBe(r.json.id);
    // without the reference the name does not resolve
    expect((await call(app, 'POST', '/subjects/withmeta2-value/versions', { schema })).json.error_code).toBe(42201);
    expect((await call(app, 'GET', '/subjects/meta-value/versions/1/referencedby')).json).toEqual([r.json.id]);
    const del = await call(app, 'DELETE', '/subjects/meta-value/versions/1');
    expect(del.status).toBe(422);
    expect(del.json.error_code).toBe(42206);
  });
});

describe('concurrency and durability', () => {
  it('20 concurrent registrations of one schema → one id, one version', async () => {
    const schema = record('Concurrent', [{ name: 'a', type: 'string' }]);
    const rs = await Promise.all(
      Array.from({ length: 20 }, () => call(app, 'POST', '/subjects/conc-value/versions', { schema })),
    );
    expect(rs.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(new Set(rs.map((r) => r.json.id)).size).toBe(1);
    expect((await call(app, 'GET', '/subjects/conc-value/versions')).json).toEqual([1]);
    // and across 20 subjects at once: still one id
    const schema2 = record('Concurrent2', [{ name: 'a', type: 'string' }]);
    const across = await Promise.all(
      Array.from({ length: 20 }, (_, i) => call(app, 'POST', `/subjects/conc${i}-value/versions`, { schema: schema2 })),
    );
    expect(new Set(across.map((r) => r.json.id)).size).toBe(1);
  });

  it('two registry instances on one database agree, and a restart keeps every id', async () => {
    const pool2 = new pg.Pool({ connectionString: databaseUrl(), max: 10 });
    const app2 = await buildRegistryApp({ pool: pool2, pgSchema }); // migration again: idempotent
    try {
      // five different schemas, each a BACKWARD-compatible evolution of the others (an optional field apiece)
      const schemas = Array.from({ length: 5 }, (_, i) =>
        record('Two', [
          { name: 'a', type: 'int' },
          { name: `f${i}`, type: 'int', default: i },
        ]),
      );
      const rs = await Promise.all(
        schemas.flatMap((schema, i) =>
          Array.from({ length: 4 }, (_, k) =>
            call(k % 2 ? app : app2, 'POST', `/subjects/two${i % 2}-value/versions`, { schema }),
          ),
        ),
      );
      expect(rs.every((r) => r.status === 200)).toBe(true);
      const idsBySchema = schemas.map((_, i) => new Set(rs.slice(i * 4, i * 4 + 4).map((r) => r.json.id)));
      for (const ids of idsBySchema) expect(ids.size).toBe(1);
      expect(new Set(idsBySchema.map((s) => [...s][0])).size).toBe(5);
      for (const subject of ['two0-value', 'two1-value']) {
        const a = await call(app, 'GET', `/subjects/${subject}/versions`);
        const b = await call(app2, 'GET', `/subjects/${subject}/versions`);
        expect(a.json).toEqual(b.json);
        expect(a.json).toEqual(Array.from({ length: a.json.length }, (_, i) => i + 1)); // no gaps, no dupes
      }
    } finally {
      await app2.close();
      await pool2.end();
    }

    const before = (await call(app, 'GET', '/subjects')).json as string[];
    const snapshot = await Promise.all(
      before.map(async (s) => (await call(app, 'GET', `/subjects/${s}/versions/latest`)).json),
    );
    await app.close();
    app = await buildRegistryApp({ databaseUrl: databaseUrl(), pgSchema });
    expect((await call(app, 'GET', '/subjects')).json).toEqual(before);
    for (const s of snapshot) {
      expect((await call(app, 'GET', `/subjects/${s.subject}/versions/latest`)).json).toEqual(s);
      expect((await call(app, 'GET', `/schemas/ids/${s.id}`)).json.schema).toBe(s.schema);
    }
  });
});
