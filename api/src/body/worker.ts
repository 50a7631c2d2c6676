// The body worker (one thread per API process, see lane.ts): parses a large request body and
// validates it against its route's schema, off the event loop, at the lowest CPU priority so the
// main thread's searches win the cores. Messages in: LaneJob; out: LaneReply (plain data only).
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type { ValidateFunction } from 'ajv';
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

const { nice } = workerData as { nice: number };
const port = parentPort;
if (!port) throw new Error('body/worker.ts runs as a worker thread');
// one ajv per route schema: schemas carry `$id`s (FeedItem) that one instance may hold only once
const validators = new Map<string, ValidateFunction>();

port.on('message', (job: LaneJob) => {
  if (job.schema && !validators.has(job.route)) validators.set(job.route, newBodyAjv().compile(job.schema));
  const buf = Buffer.from(job.bytes.buffer, job.bytes.byteOffset, job.bytes.byteLength);
  const parsed = parseJsonBody(buf, job.maxDepth, job.maxValues);
  let reply: LaneReply;
  if (!parsed.ok) reply = { id: job.id, ok: false, refusal: parsed.refusal };
  else {
    const validate = validators.get(job.route);
    const valid = validate ? validate(parsed.value) : true;
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
