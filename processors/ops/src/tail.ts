import { declareFeedlog } from '@feedlog/topics';
import type { Kafka } from 'kafkajs';
import type { RecordDecoder } from './decode.ts';
import { partitionsOfKey } from './partition.ts';
import { type Reader, startReader } from './reader.ts';
import { recordJson, recordLine, type SeenRecord } from './render.ts';

export interface TailOptions {
  kafka: Kafka;
  decoder: RecordDecoder;
  topics: string[];
  fromBeginning: boolean;
  /** only records with this key (and only the partition the key hashes to) */
  key?: string;
  /** only records whose line or whole decoded record (as JSON) matches */
  grep?: RegExp;
  json?: boolean;
  /** where each output line goes */
  write: (line: string) => void;
  onCrash?: (e: Error) => void;
}

/** Every feedlog topic that carries Avro (stage outputs and every dead-letter topic), under a prefix. */
export function allTopics(prefix = ''): string[] {
  return declareFeedlog({ prefix })
    .topics.filter((t) => t.value !== null)
    .map((t) => t.name);
}

/** Follow `topics`, decoding each record and writing one line (or JSON document) per record, until stopped. */
export async function startTail(o: TailOptions): Promise<Reader> {
  let only: Map<string, number> | undefined;
  if (o.key !== undefined) {
    const admin = o.kafka.admin();
    await admin.connect();
    try {
      only = await partitionsOfKey(admin, o.topics, o.key);
    } finally {
      await admin.disconnect();
    }
  }
  return startReader({
    kafka: o.kafka,
    topics: o.topics,
    fromBeginning: o.fromBeginning,
    ...(only ? { only } : {}),
    ...(o.onCrash ? { onCrash: o.onCrash } : {}),
    onRecord: async (raw) => {
      const key = raw.key?.toString('utf8') ?? null;
      if (o.key !== undefined && key !== o.key) return;
      const seen: SeenRecord = {
        topic: raw.topic,
        partition: raw.partition,
        offset: raw.offset,
        key,
        timestamp: raw.timestamp,
        decoded: await o.decoder.decode(raw.value),
      };
      const json = o.json || o.grep ? JSON.stringify(recordJson(seen)) : '';
      const line = o.json ? json : recordLine(seen);
      // the pattern sees the whole record, not only the fields the summary line shows
      if (o.grep && !o.grep.test(line) && !o.grep.test(json)) return;
      o.write(line);
    },
  });
}
