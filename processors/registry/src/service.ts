import type pg from 'pg';
import type { SchemaReference } from './avro.ts';
import type { CompatibilityLevel } from './compatibility.ts';
import * as deletes from './deletes.ts';
import * as reads from './reads.ts';
import { register } from './register.ts';
import { DEFAULT_SCHEMA_LIMITS, type SchemaLimits, type SchemaRequest } from './request.ts';
import * as settings from './settings.ts';
import { RegistryStore, type SchemaEntity } from './store.ts';

export { DEFAULT_SCHEMA_LIMITS, parseVersion, type SchemaLimits, type SchemaRequest } from './request.ts';
export { DEFAULT_COMPATIBILITY, MODES, type Mode } from './settings.ts';
export type { SchemaEntity } from './store.ts';

/**
 * The registry's operations over one PostgreSQL schema, as the HTTP layer (app.ts) calls them.
 * Each group lives in its own module (settings, register, reads, deletes) over a RegistryStore;
 * this class only binds them to one store.
 */
export class RegistryService {
  private readonly store: RegistryStore;

  constructor(pool: pg.Pool, pgSchema = 'registry', limits: SchemaLimits = DEFAULT_SCHEMA_LIMITS) {
    this.store = new RegistryStore(pool, pgSchema, limits);
  }

  // config and mode
  getGlobalCompatibility(): Promise<CompatibilityLevel> {
    return settings.getGlobalCompatibility(this.store);
  }
  getSubjectCompatibility(subject: string): Promise<CompatibilityLevel | undefined> {
    return settings.getSubjectCompatibility(this.store, subject);
  }
  setCompatibility(subject: string | null, level: CompatibilityLevel): Promise<void> {
    return settings.setCompatibility(this.store, subject, level);
  }
  /** Deletes the level; returns the previous one (undefined when none was set). */
  deleteCompatibility(subject: string | null): Promise<CompatibilityLevel | undefined> {
    return settings.deleteCompatibility(this.store, subject);
  }
  /** The mode in force for `subject` (its own, else the global one); the global mode when subject is null. */
  getMode(subject: string | null = null): Promise<settings.Mode> {
    return settings.getMode(this.store, subject);
  }
  getSubjectMode(subject: string): Promise<settings.Mode | undefined> {
    return settings.getSubjectMode(this.store, subject);
  }
  setMode(subject: string | null, mode: settings.Mode, force: boolean): Promise<void> {
    return settings.setMode(this.store, subject, mode, force);
  }
  deleteSubjectMode(subject: string): Promise<settings.Mode | undefined> {
    return settings.deleteSubjectMode(this.store, subject);
  }

  // register and read
  register(subject: string, body: SchemaRequest): Promise<{ id: number }> {
    return register(this.store, subject, body);
  }
  /** POST /subjects/{s}: is this schema registered under the subject? */
  lookup(subject: string, body: SchemaRequest, includeDeleted: boolean): Promise<SchemaEntity> {
    return reads.lookup(this.store, subject, body, includeDeleted);
  }
  schemaById(id: number): Promise<{ schema: string; schemaType?: string; references?: SchemaReference[] }> {
    return reads.schemaById(this.store, id);
  }
  versionsOfId(id: number, includeDeleted: boolean): Promise<{ subject: string; version: number }[]> {
    return reads.versionsOfId(this.store, id, includeDeleted);
  }
  subjectsOfId(id: number, includeDeleted: boolean): Promise<string[]> {
    return reads.subjectsOfId(this.store, id, includeDeleted);
  }
  listSubjects(includeDeleted: boolean, prefix = ''): Promise<string[]> {
    return reads.listSubjects(this.store, includeDeleted, prefix);
  }
  listVersions(subject: string, includeDeleted: boolean): Promise<number[]> {
    return reads.listVersions(this.store, subject, includeDeleted);
  }
  getVersion(subject: string, versionText: string, includeDeleted: boolean): Promise<SchemaEntity> {
    return reads.getVersion(this.store, subject, versionText, includeDeleted);
  }
  /** GET /subjects/{s}/versions/{v}/referencedby: ids of live schemas that reference this version. */
  referencedBy(subject: string, versionText: string): Promise<number[]> {
    return reads.referencedBy(this.store, subject, versionText);
  }
  testCompatibility(
    subject: string,
    versionText: string | undefined,
    body: SchemaRequest,
  ): Promise<{ is_compatible: boolean; messages: string[] }> {
    return reads.testCompatibility(this.store, subject, versionText, body);
  }

  // deletes
  deleteSubject(subject: string, permanent: boolean): Promise<number[]> {
    return deletes.deleteSubject(this.store, subject, permanent);
  }
  deleteVersion(subject: string, versionText: string, permanent: boolean): Promise<number> {
    return deletes.deleteVersion(this.store, subject, versionText, permanent);
  }
}
