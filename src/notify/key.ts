// The notify key: the bytes of --notify-key-file with surrounding whitespace trimmed (api.md),
// the same file on every node so that any leader signs the same way.
import { ChimeError } from '../errors/index.js';

/** A shorter key would make signatures guessable; the same floor as the cluster key. */
export const NOTIFY_KEY_BYTES_MIN = 16;

export function notifyKeyOf(content: Uint8Array): Uint8Array {
  let start = 0;
  let end = content.length;
  const space = (b: number | undefined): boolean => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d || b === 0x0b || b === 0x0c;
  while (start < end && space(content[start])) start++;
  while (end > start && space(content[end - 1])) end--;
  const key = content.slice(start, end);
  if (key.length < NOTIFY_KEY_BYTES_MIN) throw new ChimeError('INVALID_INPUT', `the notify key must be at least ${NOTIFY_KEY_BYTES_MIN} bytes`);
  return key;
}

