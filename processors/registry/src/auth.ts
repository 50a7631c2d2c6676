import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { registryEnv } from './env.ts';
import { Errors } from './errors.ts';

/**
 * Credentials for writes, in the two forms Confluent clients send: HTTP Basic
 * (`basic.auth.credentials.source=USER_INFO`, `basic.auth.user.info=user:password`) and a bearer
 * token (`bearer.auth.token`). Reads stay open unless `reads` is true, as the pipeline's
 * deserialisers only read.
 */
export interface RegistryAuth {
  users?: Record<string, string>;
  tokens?: readonly string[];
  reads?: boolean;
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
/** equal-time comparison of hashes, so timing tells nothing about how much of a secret matched */
const same = (a: string, b: string) => timingSafeEqual(digest(a), digest(b));

/** SCHEMA_REGISTRY_AUTH_USERS="user:pass,…", SCHEMA_REGISTRY_AUTH_TOKENS="t1,…", SCHEMA_REGISTRY_AUTH_READS=true (env.ts) */
export function registryAuthFromEnv(env?: NodeJS.ProcessEnv): RegistryAuth | undefined {
  const e = registryEnv.parse(env);
  const users = (e.SCHEMA_REGISTRY_AUTH_USERS ?? []).map((p) => {
    const at = p.indexOf(':');
    return [p.slice(0, at), p.slice(at + 1)] as const;
  });
  const tokens = e.SCHEMA_REGISTRY_AUTH_TOKENS ?? [];
  if (!users.length && !tokens.length) return undefined;
  return { users: Object.fromEntries(users), tokens, reads: e.SCHEMA_REGISTRY_AUTH_READS };
}

export function authorized(auth: RegistryAuth, header: string | undefined): boolean {
  if (!header) return false;
  const [scheme, value = ''] = header.split(' ', 2) as [string, string?];
  if (/^bearer$/i.test(scheme)) return (auth.tokens ?? []).some((t) => same(t, value.trim()));
  if (!/^basic$/i.test(scheme)) return false;
  const decoded = Buffer.from(value.trim(), 'base64').toString('utf8');
  const at = decoded.indexOf(':');
  if (at < 0) return false;
  const password = auth.users?.[decoded.slice(0, at)];
  return password !== undefined && same(password, decoded.slice(at + 1));
}

export function registryAuthHook(auth: RegistryAuth) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const read = req.method === 'GET' || req.method === 'HEAD';
    if (read && !auth.reads) return;
    if (authorized(auth, req.headers.authorization)) return;
    reply.header('www-authenticate', 'Basic realm="feedlog-registry", Bearer');
    throw Errors.unauthorized();
  };
}
