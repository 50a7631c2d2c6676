import { defineEnv, envVar } from '@feedlog/common/define-env';
import { commonEnv } from '@feedlog/common/env';

/** The local launcher (`feedlog up/down/status`): the ports and directories of the stack it runs (owned by common). */
export const scriptsEnv = defineEnv('@feedlog/scripts', {
  FEEDLOG_HOME: envVar(commonEnv, 'FEEDLOG_HOME'),
  FEEDLOG_CACHE: envVar(commonEnv, 'FEEDLOG_CACHE'),
  KAFKA_VERSION: envVar(commonEnv, 'KAFKA_VERSION'),
  KAFKA_PORT: envVar(commonEnv, 'KAFKA_PORT'),
  KAFKA_CONTROLLER_PORT: envVar(commonEnv, 'KAFKA_CONTROLLER_PORT'),
  KAFKA_NODES: envVar(commonEnv, 'KAFKA_NODES'),
  KAFKA_HEAP: envVar(commonEnv, 'KAFKA_HEAP'),
  POSTGRES_PORT: envVar(commonEnv, 'POSTGRES_PORT'),
  SCHEMA_REGISTRY_PORT: envVar(commonEnv, 'SCHEMA_REGISTRY_PORT'),
  EMBEDDER_PORT: envVar(commonEnv, 'EMBEDDER_PORT'),
  STAGE_PORT_BASE: envVar(commonEnv, 'STAGE_PORT_BASE'),
  API_PORT: envVar(commonEnv, 'API_PORT'),
});
