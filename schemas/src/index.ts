export { formatCheck, registerSchemaCommands } from './cli.ts';
export { generateTypes } from './codegen.ts';
export {
  IncompatibleSchemaError,
  isSerdeError,
  PayloadDecodeError,
  RecordEncodeError,
  RegistryUnavailableError,
  SchemaNotRegisteredError,
  SerdeError,
  TruncatedMessageError,
  UnknownSchemaIdError,
  WrongMagicByteError,
} from './errors.ts';
export { readSchemaFiles, type SchemaFile, schemasDir } from './files.ts';
export { sampleRecords } from './fixtures.ts';
export * from './generated.ts';
export { canonicalUrl, itemId, type PushedItem, rawHeadlineOf } from './ids.ts';
export { type LoadedSchemas, loadSchemas, type SubjectBinding } from './load.ts';
export {
  type CompatibilityResult,
  checkCompatibility,
  RegistryHttpError,
  RegistryRestClient,
  registerAll,
  schemaFilesAtRef,
  seedFromGitRef,
} from './registry.ts';
export { createRegistryClient, Serde, type SerdeOptions, serdeFor } from './serde.ts';
export { bytesToVector, vectorToBytes } from './vector.ts';
export {
  type ConfluentFrame,
  classifyRegistryError,
  decodeWith,
  HEADER_BYTES,
  MAGIC_BYTE,
  readFrame,
  writeFrame,
} from './wire.ts';
