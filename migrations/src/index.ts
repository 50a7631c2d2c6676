export { registerMigrateCommands } from './cli.ts';
export {
  MIGRATIONS_TABLE,
  type MigrateOptions,
  type MigrateResult,
  MigrationChecksumError,
  MigrationError,
  type MigrationFile,
  type MigrationStatus,
  migrate,
  migrationsDir,
  readMigrations,
  sha256,
  verifyApplied,
} from './migrate.ts';
export {
  materializedViews,
  type RefreshResult,
  refreshViews,
  type ViewName,
  ViewRefresher,
  type ViewRefresherOptions,
} from './views.ts';
