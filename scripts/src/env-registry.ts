import { apiEnv } from '@feedlog/api/env';
import { classifyEnv } from '@feedlog/classify/env';
import { clusterEnv } from '@feedlog/cluster/env';
import { commonEnv } from '@feedlog/common/env';
import { composeEnv } from '@feedlog/common/env-compose';
import { embedEnv } from '@feedlog/embed/env';
import { embedderEnv } from '@feedlog/embedder/env';
import { indexEnv } from '@feedlog/index/env';
import { materializeEnv } from '@feedlog/materialize/env';
import { opsEnv } from '@feedlog/ops/env';
import { pollerEnv } from '@feedlog/poller/env';
import { registryEnv } from '@feedlog/registry/env';
import { replayEnv } from '@feedlog/replay/env';
import { runtimeEnv } from '@feedlog/runtime/env';
import { sdkEnv } from '@feedlog/sdk/env';
import { telemetryEnv } from '@feedlog/telemetry/env';
import { scriptsEnv } from './env.ts';

/**
 * Every package's environment schema (each package's `src/env.ts`), composed: the source of
 * `feedlog config` and of README's configuration table. A package that starts reading a variable
 * declares it in its env.ts and is listed here; env-registry.test.ts keeps the names consistent.
 * Only the env.ts modules are imported (zod and constants), so `feedlog config` stays fast.
 */
export const envSchemas = [
  commonEnv,
  runtimeEnv,
  telemetryEnv,
  classifyEnv,
  clusterEnv,
  embedEnv,
  embedderEnv,
  indexEnv,
  materializeEnv,
  pollerEnv,
  registryEnv,
  replayEnv,
  apiEnv,
  sdkEnv,
  opsEnv,
  scriptsEnv,
] as const;

export const envRegistry = composeEnv(envSchemas);
