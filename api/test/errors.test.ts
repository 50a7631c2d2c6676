import { RegistryUnavailableError, UnknownSchemaIdError } from '@feedlog/schemas';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import { errorHandler } from '../src/errors.ts';

function handle(err: Error): { status: number; body: Record<string, unknown> } {
  const out = { status: 0, body: {} as Record<string, unknown> };
  const quiet = () => undefined;
  const req = { id: 'r1', log: { error: quiet, warn: quiet, debug: quiet } };
  const reply = {
    code: (s: number) => {
      out.status = s;
      return reply;
    },
    send: (b: Record<string, unknown>) => {
      out.body = b;
    },
  };
  errorHandler(err as FastifyError, req as unknown as FastifyRequest, reply as unknown as FastifyReply);
  return out;
}

describe('API error mapping of FEEDLOG_* codes', () => {
  it('a retriable coded error (also wrapped) is a 503 naming its code, never its internals', () => {
    const down = new RegistryUnavailableError('connect ECONNREFUSED 10.0.0.7:8081', 'raw-headlines');
    for (const e of [down, new Error('outer', { cause: down })]) {
      const r = handle(e);
      expect(r.status).toBe(503);
      expect(r.body.error).toBe('feedlog_registry_unavailable');
      expect(String(r.body.message)).not.toContain('10.0.0.7');
    }
  });

  it('a non-retriable coded error answers with the status of its code', () => {
    const r = handle(new UnknownSchemaIdError(42, 'raw-headlines'));
    expect(r.status).toBe(422);
    expect(r.body.error).toBe('feedlog_unknown_schema_id');
  });

  it('an uncoded error stays an internal error', () => {
    expect(handle(new TypeError('bug'))).toMatchObject({ status: 500, body: { error: 'internal_error' } });
  });
});
