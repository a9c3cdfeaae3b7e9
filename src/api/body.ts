import type { IncomingMessage } from 'node:http';
import { ChimeError } from '../errors/index.js';

export const MAX_BODY_BYTES = 1 << 20;

/**
 * The body's bytes, at most MAX_BODY_BYTES (a declared size over it is refused before reading;
 * a streamed one as soon as it passes, leaving the rest for discardBody).
 */
export function readBodyBytes(req: IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > MAX_BODY_BYTES) return Promise.reject(new ChimeError('BODY_TOO_LARGE', `the body is ${declared} bytes; at most ${MAX_BODY_BYTES} are accepted`));
  // Events rather than `for await`: an async iterator costs several promise turns per
  // request, and most bodies arrive in one chunk.
  return new Promise<Buffer>((resolve, reject) => {
    if (req.readableEnded) return resolve(Buffer.alloc(0));
    const chunks: Buffer[] = [];
    let total = 0;
    const onData = (chunk: Buffer): void => {
      total += chunk.length;
      if (total > MAX_BODY_BYTES) {
        // Not destroyed: the server discards a bounded rest so that the client, still
        // writing, gets to read the 413 (discardBody).
        cleanup();
        reject(new ChimeError('BODY_TOO_LARGE', `the body exceeds ${MAX_BODY_BYTES} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      const [only] = chunks;
      resolve(chunks.length === 1 && only !== undefined ? only : Buffer.concat(chunks));
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const onClose = (): void => {
      if (!req.complete) onError(new Error('the request was aborted'));
    };
    const cleanup = (): void => {
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
    };
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

/** Parses a body already read (at most MAX_BODY_BYTES); an empty body reads as undefined. */
export function parseJsonBody(body: Buffer, contentType: string | undefined): unknown {
  if (body.length === 0) return undefined;
  const type = String(contentType ?? 'application/json');
  if (!type.includes('json')) throw new ChimeError('UNSUPPORTED_MEDIA_TYPE', `expected application/json, got ${type}`);
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return value;
  } catch (error) {
    throw new ChimeError('MALFORMED_JSON', `the body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** The most of a refused request's body the server reads and throws away so its client can read the answer. */
export const DISCARD_BYTES_MAX = 16 << 20;
/** How long the server spends on that at most. */
export const DISCARD_MS_MAX = 5000;
/** A client that sends nothing for this long is not writing a body: it is waiting for the answer. */
export const DISCARD_IDLE_MS = 500;

/**
 * Reads and drops what is left of a request body the server will not use, up to
 * DISCARD_BYTES_MAX and DISCARD_MS_MAX, and resolves then (or at its end). A client that
 * writes its whole body before it reads (node:http, curl without Expect) would otherwise see
 * the connection reset under its write and never the answer. Beyond the bound the server
 * answers anyway and closes: a client sending more than that gets no answer. A client that
 * pauses for DISCARD_IDLE_MS is answered then (it may be waiting for the answer first).
 */
export function discardBody(req: IncomingMessage): Promise<void> {
  if (req.complete || req.destroyed) return Promise.resolve();
  const declared = Number(req.headers['content-length'] ?? 'NaN');
  if (Number.isFinite(declared) && declared > DISCARD_BYTES_MAX) return Promise.resolve();
  return new Promise<void>((resolve) => {
    let dropped = 0;
    let idle = setTimeout(() => done(), DISCARD_IDLE_MS);
    const done = (): void => {
      clearTimeout(timer);
      clearTimeout(idle);
      req.off('data', onData).off('end', done).off('close', done).off('error', done);
      req.pause();
      resolve();
    };
    const onData = (chunk: Buffer): void => {
      dropped += chunk.length;
      if (dropped > DISCARD_BYTES_MAX) return done();
      clearTimeout(idle);
      idle = setTimeout(done, DISCARD_IDLE_MS);
    };
    const timer = setTimeout(done, DISCARD_MS_MAX);
    req.on('data', onData).on('end', done).on('close', done).on('error', done);
    req.resume();
  });
}
