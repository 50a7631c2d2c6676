import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { errorHandler } from '../src/errors.ts';
import { apiLogger } from '../src/log.ts';
import { testApp } from './helpers.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('API log', () => {
  it('rotates by size and keeps a bounded number of files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'feedlog-apilog-'));
    dirs.push(dir);
    const { app } = await testApp({
      logger: apiLogger({ level: 'info', file: join(dir, 'api.log'), size: '2k', keep: 2 }),
      rateLimit: false,
    });
    for (let i = 0; i < 60; i++) {
      await app.inject({ url: `/nope-${'x'.repeat(100)}-${i}` });
      await new Promise((r) => setTimeout(r, 10)); // let the transport thread write and roll
    }
    await app.close();
    await new Promise((r) => setTimeout(r, 300));
    const files = readdirSync(dir).filter((f) => f.startsWith('api'));
    expect(files.length).toBeGreaterThan(1);
    expect(files.length).toBeLessThanOrEqual(3);
    const total = files.reduce((s, f) => s + statSync(join(dir, f)).size, 0);
    expect(total).toBeLessThan(4 * 4096);
  });

  it('a 500 logs one line without the stack at info (the stack only at debug)', () => {
    const lines: { level: string; obj: Record<string, unknown> }[] = [];
    const log = (level: string) => (obj: Record<string, unknown>) => void lines.push({ level, obj });
    const req = { id: 'r1', log: { error: log('error'), warn: log('warn'), debug: log('debug') } };
    const sent: unknown[] = [];
    const reply = { code: () => reply, send: (b: unknown) => void sent.push(b) };
    errorHandler(new Error('boom') as FastifyError, req as unknown as FastifyRequest, reply as unknown as FastifyReply);
    expect(sent[0]).toMatchObject({ error: 'internal_error' });
    const error = lines.find((l) => l.level === 'error')!;
    expect(JSON.stringify(error.obj)).toContain('boom');
    expect(JSON.stringify(error.obj)).not.toContain('at ');
    expect(lines.find((l) => l.level === 'debug')).toBeDefined();
  });
});
