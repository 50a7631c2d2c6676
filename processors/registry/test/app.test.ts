/**
 * Route behaviour that is decided before storage is touched, plus what clients see when PostgreSQL
 * is unreachable (Confluent's 50001). No database runs here: the pool points at a closed port.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRegistryApp } from '../src/app.ts';
import { call, V1 } from './helpers.ts';

let app: FastifyInstance;

beforeAll(async () => {
  app = await buildRegistryApp({ databaseUrl: 'postgres://nobody@127.0.0.1:1/none', migrate: false });
});
afterAll(async () => {
  await app?.close();
});

describe('registry routes without storage', () => {
  it('invalid versions → 42202 with Confluent message', async () => {
    const r = await call(app, 'GET', '/subjects/s/versions/abc');
    expect(r.status).toBe(422);
    expect(r.contentType).toBe(V1);
    expect(r.json).toEqual({
      error_code: 42202,
      message:
        'The specified version \'abc\' is not a valid version id. Allowed values are between [1, 2^31-1] and the string "latest"',
    });
    expect((await call(app, 'DELETE', '/subjects/s/versions/0')).json.error_code).toBe(42202);
  });

  it('invalid compatibility level → 42203, invalid mode → 42204', async () => {
    expect((await call(app, 'PUT', '/config', { compatibility: 'MAYBE' })).json.error_code).toBe(42203);
    expect((await call(app, 'PUT', '/config/s', {})).json.error_code).toBe(42203);
    expect((await call(app, 'PUT', '/mode', { mode: 'WRITEONLY' })).json.error_code).toBe(42204);
  });

  it('schema types, unknown routes and ids that are not numbers', async () => {
    expect((await call(app, 'GET', '/schemas/types')).json).toEqual(['AVRO']);
    expect((await call(app, 'GET', '/')).json).toEqual({});
    expect((await call(app, 'GET', '/schemas/ids/abc')).json).toEqual({
      error_code: 404,
      message: 'HTTP 404 Not Found',
    });
    expect((await call(app, 'GET', '/associations/resources/-/topic')).status).toBe(404);
  });

  it('malformed request JSON → 400 with an error body', async () => {
    const r = await call(app, 'POST', '/subjects/s/versions', '{"schema":', 'application/json');
    expect(r.status).toBe(400);
    expect(r.json.error_code).toBe(400);
  });

  it('PostgreSQL unreachable → HTTP 500 with error_code 50001', async () => {
    const r = await call(app, 'GET', '/subjects');
    expect(r.status).toBe(500);
    expect(r.json.error_code).toBe(50001);
    expect(r.json.message).toMatch(/backend data store/);
  });
});

describe('registry errors carry the feedlog codes', () => {
  it('maps each Confluent answer to a FEEDLOG_REGISTRY_* code with its retriable flag', async () => {
    const { Errors } = await import('../src/errors.ts');
    expect(Errors.schemaNotFound(3)).toMatchObject({ code: 'FEEDLOG_REGISTRY_NOT_FOUND', retriable: false });
    expect(Errors.incompatible('s', [])).toMatchObject({ code: 'FEEDLOG_REGISTRY_CONFLICT', retriable: false });
    expect(Errors.invalidSchema('x')).toMatchObject({ code: 'FEEDLOG_REGISTRY_INVALID', errorCode: 42201 });
    expect(Errors.unauthorized()).toMatchObject({ code: 'FEEDLOG_REGISTRY_UNAUTHORIZED' });
    expect(Errors.store('down')).toMatchObject({ code: 'FEEDLOG_REGISTRY_STORE', retriable: true });
    expect(Errors.store('down').toJSON()).toEqual({ error_code: 50001, message: 'down' });
  });
});
