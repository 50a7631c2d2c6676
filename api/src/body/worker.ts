// The body worker (one thread per API process, see lane.ts): parses a large request body and
// validates it against its route's schema, off the event loop, at the lowest CPU priority so the
// main thread's searches win the cores. Messages in: LaneJob; out: LaneReply (plain data only).
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { newBodyAjv } from '../validation.ts';
import type { LaneJob, LaneReply } from './lane.ts';
import { parseJsonBody } from './parse.ts';

/**
 * Lowers this thread's priority only (Linux: setpriority on the thread id; POSIX niceness is
 * per thread there). Anywhere else, or without a thread id, nothing changes: never the process.
 */
function lowerPriority(nice: number): number | null {
  if (process.platform !== 'linux') return null;
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid) || tid <= 0 || tid === process.pid) return null;
    setPriority(tid, nice);
    return getPriority(tid);
  } catch {
    return null;
  }
}

/** Longest string that failed validation sent back whole: past it, only its start crosses. */
const FAILED_STRING_KEEP = 256;

/**
 * Shortens, in place, the strings that failed validation: the route never uses a value it was
 * told is invalid (an item with an invalid field is refused; the field is reported, not read), so
 * the main thread need not receive 500 oversized titles in full (a hostile 2 MiB body would be
 * copied into its heap only to be thrown away, costing it garbage collection).
 */
function trimFailedStrings(value: unknown, errors: readonly ErrorObject[]): void {
  for (const e of errors) {
    const path = e.instancePath
      .split('/')
      .slice(1)
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    const key = path.pop();
    if (key === undefined) continue;
    let parent: unknown = value;
    for (const p of path)
      parent = typeof parent === 'object' && parent !== null ? (parent as Record<string, unknown>)[p] : undefined;
    if (typeof parent !== 'object' || parent === null) continue;
    const v = (parent as Record<string, unknown>)[key];
    if (typeof v === 'string' && v.length > FAILED_STRING_KEEP)
      (parent as Record<string, unknown>)[key] = v.slice(0, FAILED_STRING_KEEP);
  }
}

const { nice, slots } = workerData as { nice: number; slots: SharedArrayBuffer[] };
const port = parentPort;
if (!port) throw new Error('body/worker.ts runs as a worker thread');
// one ajv per route schema: schemas carry `$id`s (FeedItem) that one instance may hold only once
const validators = new Map<string, ValidateFunction>();

port.on('message', (job: LaneJob) => {
  if (job.schema && !validators.has(job.route)) validators.set(job.route, newBodyAjv().compile(job.schema));
  // a body in a receive slot is read in place: the main thread does not touch the slot until this
  // job's reply, and parsing copies what it keeps (the JSON text) out of it
  const buf =
    job.slot !== undefined
      ? Buffer.from(slots[job.slot]!, 0, job.length)
      : Buffer.from(job.bytes!.buffer, job.bytes!.byteOffset, job.bytes!.byteLength);
  const parsed = parseJsonBody(buf, job.maxDepth, job.maxValues);
  let reply: LaneReply;
  if (!parsed.ok) reply = { id: job.id, ok: false, refusal: parsed.refusal };
  else {
    const validate = validators.get(job.route);
    const valid = validate ? validate(parsed.value) : true;
    if (!valid && validate?.errors) trimFailedStrings(parsed.value, validate.errors);
    reply = {
      id: job.id,
      ok: true,
      value: parsed.value,
      validated: validate !== undefined,
      errors: valid ? null : (validate?.errors ?? []),
    };
  }
  port.postMessage(reply);
});
port.postMessage({ ready: true, nice: lowerPriority(nice) });
