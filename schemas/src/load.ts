import { declareFeedlog } from '@feedlog/topics';
import avro from 'avsc';
import { readSchemaFiles, type SchemaFile, schemasDir } from './files.ts';
import type { RecordName } from './generated.ts';

export interface SubjectBinding {
  /** `<topic>-value` (TopicNameStrategy). */
  subject: string;
  topic: string;
  record: RecordName;
}

export interface LoadedSchemas {
  /** Parsed avsc types by record name. */
  types: { readonly [R in RecordName]: avro.Type };
  /** The `.avsc` files by record name (text as registered). */
  files: { readonly [R in RecordName]: SchemaFile };
  /** Every subject the declared topics carry, with its record. */
  subjects: SubjectBinding[];
  /** Subject of a topic's value: `<topic>-value`. */
  subjectOf(topic: string): string;
  /** Record carried by a declared topic (throws for an undeclared topic or one without an Avro value). */
  recordOf(topic: string): RecordName;
}

const cache = new Map<string, LoadedSchemas>();

/** Parse every schemas/*.avsc and bind them to the declared topics' subjects. Cached per (dir, prefix). */
export function loadSchemas(opts: { dir?: string; prefix?: string } = {}): LoadedSchemas {
  const dir = opts.dir ?? schemasDir;
  const prefix = opts.prefix ?? '';
  const key = `${dir}\0${prefix}`;
  const hit = cache.get(key);
  if (hit) return hit;

  const files = readSchemaFiles(dir);
  const types: Partial<Record<RecordName, avro.Type>> = {};
  const byName: Partial<Record<RecordName, SchemaFile>> = {};
  for (const f of files) {
    types[f.name as RecordName] = avro.Type.forSchema(f.json as avro.Schema);
    byName[f.name as RecordName] = f;
  }
  const declarations = declareFeedlog({ prefix });
  const subjects: SubjectBinding[] = [];
  const recordByTopic = new Map<string, RecordName>();
  for (const t of declarations.topics) {
    if (!t.value) continue;
    if (!byName[t.value.record])
      throw new Error(`topic ${t.name} carries ${t.value.record}, which has no .avsc in ${dir}`);
    subjects.push({ subject: t.value.subject, topic: t.name, record: t.value.record });
    recordByTopic.set(t.name, t.value.record);
  }
  const loaded: LoadedSchemas = {
    types: types as LoadedSchemas['types'],
    files: byName as LoadedSchemas['files'],
    subjects,
    subjectOf: (topic) => `${topic}-value`,
    recordOf: (topic) => {
      const r = recordByTopic.get(topic);
      if (!r) throw new Error(`topic ${topic} is not declared with an Avro value (prefix ${JSON.stringify(prefix)})`);
      return r;
    },
  };
  cache.set(key, loaded);
  return loaded;
}
