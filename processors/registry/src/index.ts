export { buildRegistryApp, CONTENT_TYPE, type RegistryAppOptions } from './app.ts';
export {
  canonicalString,
  InvalidSchemaError,
  parseAvroSchema,
  type SchemaReference,
  schemaFingerprint,
} from './avro.ts';
export {
  COMPATIBILITY_LEVELS,
  type CompatibilityLevel,
  type CompatibilityResult,
  checkCompatibility,
  type Incompatibility,
  parseCompatibilityLevel,
  readerWriterIncompatibilities,
} from './compatibility.ts';
export { ErrorCode, Errors, RegistryError } from './errors.ts';
export { migrate } from './migrate.ts';
export { RegistryService } from './service.ts';
