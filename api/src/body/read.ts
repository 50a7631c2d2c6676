import type { Readable } from 'node:stream';
import { errorCodes } from 'fastify';

// Reading a request body off its stream, with Fastify's own checks and errors (413 past the body
// limit, 400 when the bytes do not match content-length, 400 for a stream error such as a client
// that hung up), so the API answers exactly as with Fastify's `parseAs: 'buffer'` reader.

/** Hands each chunk to `onChunk` (an error it returns stops the reading); `finish` once the stream is done or failed. */
function drain(
  payload: Readable,
  onChunk: (chunk: Buffer) => Error | undefined,
  finish: (err: Error | undefined) => void,
): void {
  const stop = (err: Error | undefined) => {
    payload.removeListener('data', onData);
    payload.removeListener('end', onEnd);
    payload.removeListener('error', onError);
    finish(err);
  };
  const onData = (chunk: Buffer | string) => {
    const err = onChunk(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    if (err) stop(err);
  };
  const onEnd = () => stop(undefined);
  const onError = (err: Error & { statusCode?: number }) => {
    if (!(typeof err.statusCode === 'number' && err.statusCode >= 400)) err.statusCode = 400;
    stop(err);
  };
  payload.on('data', onData);
  payload.on('end', onEnd);
  payload.on('error', onError);
  payload.resume();
}

/**
 * Reads a body whose content-length is `into.length` straight into `into` (a receive slot of the
 * body lane): one copy per chunk, no chunk list, no concatenation.
 */
export function readInto(payload: Readable, into: Buffer, limit: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let received = 0;
    drain(
      payload,
      (chunk) => {
        if (received + chunk.length > limit) return new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE();
        // more bytes than declared: Node's parser never delivers them, a transform stream might
        if (received + chunk.length > into.length) return new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH();
        chunk.copy(into, received);
        received += chunk.length;
        return undefined;
      },
      (err) => {
        if (!err && received !== into.length) err = new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH();
        if (err) reject(err);
        else resolve(received);
      },
    );
  });
}

/** Reads a body of unknown or small size as Fastify does: chunks up to `limit`, then one buffer. */
export function readChunks(payload: Readable, declared: number, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    drain(
      payload,
      (chunk) => {
        received += chunk.length;
        if (received > limit) return new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE();
        chunks.push(chunk);
        return undefined;
      },
      (err) => {
        if (!err && !Number.isNaN(declared) && received !== declared)
          err = new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH();
        if (err) reject(err);
        // a copy even for one chunk, as Fastify: the body may be handed to the worker
        else resolve(Buffer.concat(chunks, received));
      },
    );
  });
}
