import { readdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';

/** Folder holding the `.avsc` files (schemas/). */
export const schemasDir = resolve(import.meta.dirname, '..');

/** A JSON value as read from an `.avsc` file. */
export type AvroJson = null | boolean | number | string | AvroJson[] | { [key: string]: AvroJson };

export interface SchemaFile {
  /** Record name without namespace, which is also the file name (RawHeadline.avsc). */
  name: string;
  file: string;
  /** The file's text, exactly as registered. */
  text: string;
  json: { name: string; namespace?: string; type: 'record'; fields: AvroJson[]; [key: string]: AvroJson | undefined };
}

/** Parse one `.avsc` text, checking that its record name matches the file name. */
export function parseSchemaFile(file: string, text: string): SchemaFile {
  const json = JSON.parse(text) as SchemaFile['json'];
  const name = basename(file, '.avsc');
  if (json.type !== 'record' || json.name !== name) {
    throw new Error(`${file}: expected a record named ${name}, got ${json.type} ${json.name}`);
  }
  return { name, file, text, json };
}

/** Every `.avsc` file under `dir` (default schemas/), sorted by name. */
export function readSchemaFiles(dir = schemasDir): SchemaFile[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.avsc'))
    .sort()
    .map((f) => parseSchemaFile(join(dir, f), readFileSync(join(dir, f), 'utf8')));
}
