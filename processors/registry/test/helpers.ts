import { randomBytes } from 'node:crypto';
import { loadConfig } from '@feedlog/common';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';

export const databaseUrl = (): string => process.env.DATABASE_URL ?? loadConfig().postgres.url;

/** A PostgreSQL schema name no other test or run uses. */
export function uniquePgSchema(prefix = 'reg'): string {
  return `${prefix}_${process.env.VITEST_POOL_ID ?? '0'}_${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

export async function dropPgSchema(name: string): Promise<void> {
  const c = new pg.Client({ connectionString: databaseUrl() });
  await c.connect();
  try {
    await c.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
  } finally {
    await c.end();
  }
}

export const V1 = 'application/vnd.schemaregistry.v1+json';

export async function call(
  app: FastifyInstance,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  url: string,
  body?: unknown,
  contentType = V1,
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are asserted field by field
): Promise<{ status: number; json: any; text: string; contentType: string }> {
  const r = await app.inject({
    method,
    url,
    headers: body === undefined ? {} : { 'content-type': contentType },
    payload: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  let json: unknown;
  try {
    json = r.json();
  } catch {
    json = undefined;
  }
  return { status: r.statusCode, json, text: r.body, contentType: String(r.headers['content-type']) };
}

export const record = (name: string, fields: unknown[], extra: Record<string, unknown> = {}) =>
  JSON.stringify({ type: 'record', name, namespace: 'feedlog.test', fields, ...extra });
