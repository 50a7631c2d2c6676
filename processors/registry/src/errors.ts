import { FeedlogError, type ErrorCode as FeedlogErrorCode } from '@feedlog/common';

/**
 * Confluent Schema Registry error codes and messages, taken from
 * io.confluent.kafka.schemaregistry.rest.exceptions.Errors (and the Rest*Exception classes beside it)
 * so that clients which switch on `error_code` behave as they do against Confluent.
 */
export const ErrorCode = {
  SUBJECT_NOT_FOUND: 40401,
  VERSION_NOT_FOUND: 40402,
  SCHEMA_NOT_FOUND: 40403,
  SUBJECT_SOFT_DELETED: 40404,
  SUBJECT_NOT_SOFT_DELETED: 40405,
  SCHEMAVERSION_SOFT_DELETED: 40406,
  SCHEMAVERSION_NOT_SOFT_DELETED: 40407,
  SUBJECT_LEVEL_COMPATIBILITY_NOT_CONFIGURED: 40408,
  SUBJECT_LEVEL_MODE_NOT_CONFIGURED: 40409,
  /** RestIncompatibleSchemaException: HTTP 409 with error_code 409 (what Confluent 5.x–7.x return). */
  INCOMPATIBLE_SCHEMA: 409,
  INVALID_SCHEMA: 42201,
  INVALID_VERSION: 42202,
  INVALID_COMPATIBILITY_LEVEL: 42203,
  INVALID_MODE: 42204,
  OPERATION_NOT_PERMITTED: 42205,
  REFERENCE_EXISTS: 42206,
  ID_DOES_NOT_MATCH: 42207,
  INVALID_SUBJECT: 42208,
  /** what Confluent's security plugins answer to missing or wrong credentials */
  UNAUTHORIZED: 40101,
  STORE_ERROR: 50001,
} as const;

/** The feedlog code of a registry answer, by its HTTP status (the Confluent error_code stays on the wire). */
function feedlogCode(status: number): FeedlogErrorCode {
  if (status === 401) return 'FEEDLOG_REGISTRY_UNAUTHORIZED';
  if (status === 404) return 'FEEDLOG_REGISTRY_NOT_FOUND';
  if (status === 409) return 'FEEDLOG_REGISTRY_CONFLICT';
  if (status >= 500) return 'FEEDLOG_REGISTRY_STORE';
  return 'FEEDLOG_REGISTRY_INVALID';
}

export class RegistryError extends FeedlogError {
  override name = 'RegistryError';
  constructor(
    readonly status: number,
    readonly errorCode: number,
    message: string,
  ) {
    super(feedlogCode(status), message);
  }
  toJSON(): { error_code: number; message: string } {
    return { error_code: this.errorCode, message: this.message };
  }
}

export const Errors = {
  subjectNotFound: (s: string) => new RegistryError(404, ErrorCode.SUBJECT_NOT_FOUND, `Subject '${s}' not found.`),
  versionNotFound: (v: number | string) =>
    new RegistryError(404, ErrorCode.VERSION_NOT_FOUND, `Version ${v} not found.`),
  schemaNotFound: (id?: number | string) =>
    new RegistryError(
      404,
      ErrorCode.SCHEMA_NOT_FOUND,
      id === undefined ? 'Schema not found' : `Schema ${id} not found`,
    ),
  subjectSoftDeleted: (s: string) =>
    new RegistryError(
      404,
      ErrorCode.SUBJECT_SOFT_DELETED,
      `Subject '${s}' was soft deleted.Set permanent=true to delete permanently`,
    ),
  subjectNotSoftDeleted: (s: string) =>
    new RegistryError(
      404,
      ErrorCode.SUBJECT_NOT_SOFT_DELETED,
      `Subject '${s}' was not deleted first before being permanently deleted`,
    ),
  versionSoftDeleted: (s: string, v: number | string) =>
    new RegistryError(
      404,
      ErrorCode.SCHEMAVERSION_SOFT_DELETED,
      `Subject '${s}' Version ${v} was soft deleted.Set permanent=true to delete permanently`,
    ),
  versionNotSoftDeleted: (s: string, v: number | string) =>
    new RegistryError(
      404,
      ErrorCode.SCHEMAVERSION_NOT_SOFT_DELETED,
      `Subject '${s}' Version ${v} was not deleted first before being permanently deleted`,
    ),
  subjectCompatibilityNotConfigured: (s: string) =>
    new RegistryError(
      404,
      ErrorCode.SUBJECT_LEVEL_COMPATIBILITY_NOT_CONFIGURED,
      `Subject '${s}' does not have subject-level compatibility configured`,
    ),
  subjectModeNotConfigured: (s: string) =>
    new RegistryError(
      404,
      ErrorCode.SUBJECT_LEVEL_MODE_NOT_CONFIGURED,
      `Subject '${s}' does not have subject-level mode configured`,
    ),
  incompatible: (subject: string, messages: string[]) =>
    new RegistryError(
      409,
      ErrorCode.INCOMPATIBLE_SCHEMA,
      `Schema being registered is incompatible with an earlier schema for subject "${subject}", details: [${messages.join(', ')}]`,
    ),
  invalidSchema: (detail: string) => new RegistryError(422, ErrorCode.INVALID_SCHEMA, `Invalid schema ${detail}`),
  invalidVersion: (v: string) =>
    new RegistryError(
      422,
      ErrorCode.INVALID_VERSION,
      `The specified version '${v}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string "latest"`,
    ),
  invalidCompatibility: () =>
    new RegistryError(
      422,
      ErrorCode.INVALID_COMPATIBILITY_LEVEL,
      'Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive',
    ),
  invalidMode: (m: unknown) =>
    new RegistryError(
      422,
      ErrorCode.INVALID_MODE,
      `Invalid mode ${JSON.stringify(m)}. Valid values are READWRITE, READONLY, READONLY_OVERRIDE, IMPORT`,
    ),
  notPermitted: (msg: string) => new RegistryError(422, ErrorCode.OPERATION_NOT_PERMITTED, msg),
  referenceExists: (msg: string) => new RegistryError(422, ErrorCode.REFERENCE_EXISTS, msg),
  idDoesNotMatch: (existing: number, input: number) =>
    new RegistryError(
      422,
      ErrorCode.ID_DOES_NOT_MATCH,
      `Schema already registered with id ${existing} instead of input id ${input}`,
    ),
  invalidSubject: (s: string) =>
    new RegistryError(422, ErrorCode.INVALID_SUBJECT, `The specified subject '${s}' is not a valid.`),
  store: (msg: string) => new RegistryError(500, ErrorCode.STORE_ERROR, msg),
  unauthorized: () =>
    new RegistryError(401, ErrorCode.UNAUTHORIZED, 'Unauthorized: this registry needs credentials to write'),
  badRequest: (msg: string) => new RegistryError(400, 400, msg),
  routeNotFound: () => new RegistryError(404, 404, 'HTTP 404 Not Found'),
  methodNotAllowed: () => new RegistryError(405, 405, 'HTTP 405 Method Not Allowed'),
};
