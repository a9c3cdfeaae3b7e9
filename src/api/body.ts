import type { IncomingMessage } from 'node:http';
import { ChimeError } from '../errors/index.js';

export const MAX_BODY_BYTES = 1 << 20;

/**
 * Reads a body of at most MAX_BODY_BYTES as bytes (parseJsonBody reads them as JSON). A
 * declared or streamed size over the limit is refused without reading the rest.
 */
export async function readRawBody(req: IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > MAX_BODY_BYTES) {
    req.resume();
    throw new ChimeError('BODY_TOO_LARGE', `the body is ${declared} bytes; at most ${MAX_BODY_BYTES} are accepted`);
  }
  // Events rather than `for await`: an async iterator costs several promise turns per
  // request, and most bodies arrive in one chunk.
  return new Promise<Buffer>((resolve, reject) => {
    if (req.readableEnded) return resolve(Buffer.alloc(0));
    const chunks: Buffer[] = [];
    let total = 0;
    const onData = (chunk: Buffer): void => {
      total += chunk.length;
      if (total > MAX_BODY_BYTES) {
        cleanup();
        req.destroy();
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
