import { closeSync, fsyncSync, ftruncateSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { FeedlogError } from '@feedlog/common';
import type { HeadlinePayload } from './types.ts';

/**
 * Write-ahead log of one embedded collection. Every upsert/delete batch is appended and fsynced
 * before the index applies it in memory and before the stage commits its Kafka offsets, so a crash
 * loses nothing the stage acknowledged: on open, the last snapshot is loaded and the log after it
 * replayed. A torn tail (crash mid-append) fails its CRC and is cut off.
 *
 * Frame: u32 LE body length, u32 LE CRC-32 of the body, body.
 * Body:  u8 op (1 upsert, 2 delete), u16 LE id length, id (UTF-8),
 *        upsert only: u32 LE payload length, payload (JSON), dims × f32 LE vector.
 */
export type WalEntry =
  | { op: 'upsert'; itemId: string; payload: HeadlinePayload; vector: Float32Array }
  | { op: 'delete'; itemId: string };

const OP_UPSERT = 1;
const OP_DELETE = 2;
const HEADER = 8;

export function encodeEntry(e: WalEntry): Buffer {
  const id = Buffer.from(e.itemId, 'utf8');
  if (id.length > 0xffff) throw new RangeError('item id longer than 65535 bytes');
  let body: Buffer;
  if (e.op === 'upsert') {
    const payload = Buffer.from(JSON.stringify(e.payload), 'utf8');
    const vec = Buffer.from(e.vector.buffer, e.vector.byteOffset, e.vector.byteLength);
    body = Buffer.allocUnsafe(1 + 2 + id.length + 4 + payload.length + vec.length);
    let o = body.writeUInt8(OP_UPSERT, 0);
    o = body.writeUInt16LE(id.length, o);
    o += id.copy(body, o);
    o = body.writeUInt32LE(payload.length, o);
    o += payload.copy(body, o);
    vec.copy(body, o);
  } else {
    body = Buffer.allocUnsafe(1 + 2 + id.length);
    let o = body.writeUInt8(OP_DELETE, 0);
    o = body.writeUInt16LE(id.length, o);
    id.copy(body, o);
  }
  const frame = Buffer.allocUnsafe(HEADER + body.length);
  frame.writeUInt32LE(body.length, 0);
  frame.writeUInt32LE(crc32(body), 4);
  body.copy(frame, HEADER);
  return frame;
}

function decodeBody(body: Buffer, dims: number): WalEntry {
  const op = body.readUInt8(0);
  const idLen = body.readUInt16LE(1);
  const itemId = body.toString('utf8', 3, 3 + idLen);
  if (op === OP_DELETE) return { op: 'delete', itemId };
  if (op !== OP_UPSERT) throw new Error(`unknown WAL op ${op}`);
  let o = 3 + idLen;
  const pLen = body.readUInt32LE(o);
  o += 4;
  const payload = JSON.parse(body.toString('utf8', o, o + pLen)) as HeadlinePayload;
  o += pLen;
  if (body.length - o !== dims * 4) throw new Error(`WAL vector has ${(body.length - o) / 4} floats, expected ${dims}`);
  const vector = new Float32Array(dims);
  new Uint8Array(vector.buffer).set(body.subarray(o));
  return { op: 'upsert', itemId, payload, vector };
}

/** Decode the frames of `buf` (the log from byte `from`); stops at the first incomplete or corrupt frame. */
function decodeFrames(buf: Buffer, dims: number, from: number): { entries: WalEntry[]; end: number } {
  const entries: WalEntry[] = [];
  let o = 0;
  while (o + HEADER <= buf.length) {
    const len = buf.readUInt32LE(o);
    const crc = buf.readUInt32LE(o + 4);
    if (o + HEADER + len > buf.length) break;
    const body = buf.subarray(o + HEADER, o + HEADER + len);
    if (crc32(body) !== crc) break;
    entries.push(decodeBody(body, dims));
    o += HEADER + len;
  }
  return { entries, end: from + o };
}

/**
 * Read the entries of a log from byte `from`; stops at the first incomplete or corrupt frame.
 * Returns the entries and the end offset of the last good frame (where appends must continue).
 * Synchronous: for the writer, which opens its log once before it appends.
 */
export function readWal(file: string, dims: number, from = 0): { entries: WalEntry[]; end: number } {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return { entries: [], end: 0 };
  }
  if (size <= from) return { entries: [], end: from };
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(size - from);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, from + got);
      if (n === 0) break;
      got += n;
    }
    return decodeFrames(buf.subarray(0, got), dims, from);
  } finally {
    closeSync(fd);
  }
}

/** `readWal` off the event loop (fs/promises): readers tail the log on every search. */
export async function readWalAsync(
  file: string,
  dims: number,
  from = 0,
): Promise<{ entries: WalEntry[]; end: number }> {
  let fh: FileHandle;
  try {
    fh = await open(file, 'r');
  } catch {
    return { entries: [], end: 0 };
  }
  try {
    const size = (await fh.stat()).size;
    if (size <= from) return { entries: [], end: from };
    const buf = Buffer.allocUnsafe(size - from);
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, from + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return decodeFrames(buf.subarray(0, got), dims, from);
  } finally {
    await fh.close();
  }
}

/**
 * An append-only log file, positioned at `end` (anything after it, a torn tail, is cut off).
 *
 * A failed append (ENOSPC, EIO, a failed fsync) must not leave a partial frame behind: the log is
 * append-only, so a later good frame would land after the torn one and every reader (and recovery)
 * stops at the torn frame, dropping all later frames (issue #15: 4,895 of 6,000 items lost after a
 * disk-full). So a failed append cuts the file back to the end of the last good frame before the
 * error surfaces (retriable: the batch is redone once space is back); if even that cut fails, the
 * next append makes it first and fails again until it succeeds.
 */
export class WalWriter {
  private fd: number;
  /** the file may hold bytes after `end` (a failed append whose cut-back failed too) */
  private torn = false;
  constructor(
    readonly file: string,
    public end: number,
  ) {
    this.fd = openSync(file, 'a+');
    // truncate a torn tail so the next append starts on a frame boundary
    if (statSync(file).size > end) {
      closeSync(this.fd);
      const rw = openSync(file, 'r+');
      ftruncateSync(rw, end);
      fsyncSync(rw);
      closeSync(rw);
      this.fd = openSync(file, 'a');
    }
  }

  /** append frames and fsync: durable when this returns; on failure the log is as before (retriable error) */
  append(frames: Buffer[]): void {
    if (frames.length === 0) return;
    const all = frames.length === 1 ? frames[0]! : Buffer.concat(frames);
    try {
      if (this.torn) this.cutBack();
      let off = 0;
      while (off < all.length) off += writeSync(this.fd, all, off);
      fsyncSync(this.fd);
    } catch (e) {
      this.torn = true;
      try {
        this.cutBack();
      } catch {
        // stays torn: the next append cuts back first
      }
      throw new FeedlogError(
        'FEEDLOG_RETRIABLE',
        `WAL append to ${this.file} failed (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); log cut back to ${this.end} bytes`,
        { cause: e },
      );
    }
    this.end += all.length;
  }

  /** drop every byte after `end` (a partial frame of a failed append) and make the cut durable */
  private cutBack(): void {
    ftruncateSync(this.fd, this.end);
    fsyncSync(this.fd);
    this.torn = false;
  }

  close(): void {
    closeSync(this.fd);
  }
}
