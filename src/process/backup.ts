// The backup file (`chime backup`, `GET /v1/snapshot`, `chime agent --restore`): one JSON
// header line, then the job table's snapshot image. The header names the log index the image
// stands at and the image's SHA-256, so a torn or altered file is refused before any of it is
// used.
import { createHash } from 'node:crypto';
import { ChimeError } from '../errors/index.js';

const FORMAT = 'chime-backup';
const VERSION = 1;
/** A header line longer than this is not ours. */
const HEADER_BYTES_MAX = 4096;

export interface Backup {
  /** The applied log index the image stands at. */
  readonly index: number;
  readonly createdAtMs: number;
  /** The node that made it. */
  readonly node: string;
  readonly image: Uint8Array;
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function encodeBackup(backup: Backup): Buffer {
  const header = { format: FORMAT, version: VERSION, index: backup.index, createdAt: new Date(backup.createdAtMs).toISOString(), node: backup.node, imageBytes: backup.image.length, sha256: sha256(backup.image) };
  return Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), backup.image]);
}

function bad(why: string): ChimeError {
  return new ChimeError('INVALID_SNAPSHOT', `not a usable chime backup: ${why}`);
}

/** Checks and opens a backup file's bytes; a ChimeError (INVALID_SNAPSHOT) saying why otherwise. */
export function decodeBackup(bytes: Uint8Array): Backup {
  const newline = bytes.subarray(0, HEADER_BYTES_MAX).indexOf(0x0a);
  if (newline < 0) throw bad('no header line');
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(bytes.subarray(0, newline)).toString('utf8'));
  } catch {
    throw bad('the header is not JSON');
  }
  if (typeof header !== 'object' || header === null) throw bad('the header is not an object');
  const field = (name: string): unknown => Reflect.get(header, name);
  if (field('format') !== FORMAT) throw bad('it does not say it is one');
  if (field('version') !== VERSION) throw bad(`format version ${String(field('version'))}, this build reads ${VERSION}`);
  const index = field('index');
  const imageBytes = field('imageBytes');
  const digest = field('sha256');
  const createdAt = field('createdAt');
  const node = field('node');
  if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 1) throw bad('no valid index');
  if (typeof imageBytes !== 'number' || typeof digest !== 'string' || typeof createdAt !== 'string' || typeof node !== 'string') throw bad('the header misses fields');
  const image = bytes.subarray(newline + 1);
  if (image.length !== imageBytes) throw bad(`the image is ${image.length} bytes, the header says ${imageBytes} (cut short?)`);
  if (sha256(image) !== digest) throw bad('the image does not match its checksum');
  return { index, createdAtMs: Date.parse(createdAt), node, image };
}
