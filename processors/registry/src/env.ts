import { defineEnv } from '@feedlog/common/define-env';
import { bool, int, list, str } from '@feedlog/common/env-parsers';
import { DEFAULT_SCHEMA_LIMITS } from './request.ts';

/** The schema registry service (its port and URL are @feedlog/common's SCHEMA_REGISTRY_PORT/URL). */
export const registryEnv = defineEnv('@feedlog/registry', {
  SCHEMA_REGISTRY_HOST: {
    schema: str().default('127.0.0.1'),
    doc: 'Address the schema registry binds (loopback by default).',
  },
  SCHEMA_REGISTRY_PG_SCHEMA: {
    schema: str()
      .regex(/^[a-z_][a-z0-9_]*$/, 'expected a PostgreSQL identifier (lower case)')
      .default('registry'),
    doc: 'PostgreSQL schema the registry keeps its subjects in.',
  },
  SCHEMA_REGISTRY_MAX_SCHEMA_BYTES: {
    schema: int({ min: 1 }).default(DEFAULT_SCHEMA_LIMITS.maxSchemaBytes),
    deprecatedNames: ['REGISTRY_MAX_SCHEMA_BYTES'],
    doc: 'Largest schema text the registry accepts.',
  },
  SCHEMA_REGISTRY_AUTH_USERS: {
    schema: list({ pattern: /^[^:]+:.*$/, what: 'user:password' }).optional(),
    secret: true,
    default: 'none (writes open)',
    doc: 'HTTP Basic credentials for registry writes: user:password,…',
  },
  SCHEMA_REGISTRY_AUTH_TOKENS: {
    schema: list().optional(),
    secret: true,
    default: 'none',
    doc: 'Bearer tokens for registry writes: t1,…',
  },
  SCHEMA_REGISTRY_AUTH_READS: {
    schema: bool().default(false),
    doc: 'Reads need credentials too (when users or tokens are set).',
  },
});
