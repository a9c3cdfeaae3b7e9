import type { IncomingMessage } from 'node:http';
import { problem } from './problem.js';

export const MAX_BODY_BYTES = 1 << 20;

/**
 * Reads a JSON body of at most MAX_BODY_BYTES. A declared or streamed size over the limit
 * is refused without reading the rest; an empty body reads as undefined.
 */
export async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > MAX_BODY_BYTES) {
    req.resume();
    throw problem(413, 'BODY_TOO_LARGE', `the body is ${declared} bytes; at most ${MAX_BODY_BYTES} are accepted`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    total += buffer.length;
    if (total > MAX_BODY_BYTES) {
      req.destroy();
      throw problem(413, 'BODY_TOO_LARGE', `the body exceeds ${MAX_BODY_BYTES} bytes`);
    }
    chunks.push(buffer);
  }
  return parseJsonBody(Buffer.concat(chunks), req.headers['content-type']);
}

/** Parses a body already read (at most MAX_BODY_BYTES); an empty body reads as undefined. */
export function parseJsonBody(body: Buffer, contentType: string | undefined): unknown {
  if (body.length === 0) return undefined;
  const type = String(contentType ?? 'application/json');
  if (!type.includes('json')) throw problem(415, 'UNSUPPORTED_MEDIA_TYPE', `expected application/json, got ${type}`);
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch (error) {
    throw problem(400, 'MALFORMED_JSON', `the body is not valid JSON: ${(error as Error).message}`);
  }
}
