import { readFileSync } from 'node:fs';
import { parseOffsetsCsv } from './csv.ts';
import { ResetUsageError } from './errors.ts';
import { parseDateTime, parseDuration, parseLong, parseTopicArg } from './parse.ts';
import type { OffsetStoreKind, ResetMode, ResetScope } from './types.ts';

/** The CLI's options as commander hands them over (names as Kafka's tool spells them). */
export interface ResetCliOptions {
  group?: string;
  topic?: string[];
  allTopics?: boolean;
  toEarliest?: boolean;
  toLatest?: boolean;
  toCurrent?: boolean;
  toOffset?: string;
  shiftBy?: string;
  toDatetime?: string;
  byDuration?: string;
  fromFile?: string;
  execute?: boolean;
  dryRun?: boolean;
  export?: string | boolean;
  json?: boolean;
  offsetsIn?: string;
  newGroup?: boolean;
}

export interface ResetRequest {
  groupId: string;
  scope?: ResetScope;
  mode: ResetMode;
  execute: boolean;
  offsetsIn: 'auto' | OffsetStoreKind;
}

const MODES = [
  ['toEarliest', '--to-earliest'],
  ['toLatest', '--to-latest'],
  ['toCurrent', '--to-current'],
  ['toOffset', '--to-offset'],
  ['shiftBy', '--shift-by'],
  ['toDatetime', '--to-datetime'],
  ['byDuration', '--by-duration'],
  ['fromFile', '--from-file'],
] as const;

/** Checks the combination (one group, one scope, exactly one mode) and parses every value. */
export function resetRequest(o: ResetCliOptions, readFile: (p: string) => string = readUtf8): ResetRequest {
  if (!o.group) throw new ResetUsageError('--group is required');
  const modes = MODES.filter(([k]) => o[k] !== undefined && o[k] !== false);
  if (modes.length !== 1) {
    throw new ResetUsageError(
      modes.length
        ? `conflicting modes ${modes.map(([, f]) => f).join(' and ')}: give exactly one`
        : `give exactly one of ${MODES.map(([, f]) => f).join(', ')}`,
    );
  }
  if (o.execute && o.dryRun) throw new ResetUsageError('--execute and --dry-run conflict');
  if (o.allTopics && o.topic?.length) throw new ResetUsageError('--all-topics and --topic conflict: give one scope');
  const offsetsIn = o.offsetsIn ?? 'auto';
  if (offsetsIn !== 'auto' && offsetsIn !== 'kafka' && offsetsIn !== 'postgres') {
    throw new ResetUsageError(`--offsets-in must be auto, kafka or postgres (got '${offsetsIn}')`);
  }
  const scope: ResetScope | undefined = o.allTopics
    ? { kind: 'all-topics' }
    : o.topic?.length
      ? { kind: 'topics', topics: o.topic.map(parseTopicArg) }
      : undefined;
  const mode = parseMode(o, o.group, readFile);
  if (!scope && mode.kind !== 'from-file') {
    throw new ResetUsageError('one scope is required: --all-topics or --topic T[:P,...] (optional with --from-file)');
  }
  return { groupId: o.group, ...(scope ? { scope } : {}), mode, execute: !!o.execute, offsetsIn };
}

function parseMode(o: ResetCliOptions, groupId: string, readFile: (p: string) => string): ResetMode {
  if (o.toEarliest) return { kind: 'to-earliest' };
  if (o.toLatest) return { kind: 'to-latest' };
  if (o.toCurrent) return { kind: 'to-current' };
  if (o.toOffset !== undefined) return { kind: 'to-offset', offset: parseLong('--to-offset', o.toOffset) };
  if (o.shiftBy !== undefined) return { kind: 'shift-by', by: parseLong('--shift-by', o.shiftBy) };
  if (o.toDatetime !== undefined) return { kind: 'to-datetime', timestamp: parseDateTime(o.toDatetime) };
  if (o.byDuration !== undefined) return { kind: 'by-duration', durationMs: parseDuration(o.byDuration) };
  return { kind: 'from-file', entries: parseOffsetsCsv(readFile(o.fromFile!), groupId) };
}

function readUtf8(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new ResetUsageError(`cannot read offsets file ${path}: ${(e as Error).message}`);
  }
}
