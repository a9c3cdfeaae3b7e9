// The end of a text that fits a byte budget (output tails kept in run records).
import { utf8Bytes } from './defaults.js';

/** The end of a string that fits in `bytesMax` UTF-8 bytes. */
export function tailOf(text: string, bytesMax: number): string {
  if (text.length <= bytesMax / 3 || utf8Bytes(text) <= bytesMax) return text;
  let start = Math.max(0, text.length - bytesMax);
  while (utf8Bytes(text.slice(start)) > bytesMax) start += Math.max(1, Math.floor((utf8Bytes(text.slice(start)) - bytesMax) / 4));
  // Never start in the middle of a surrogate pair.
  if ((text.charCodeAt(start) & 0xfc00) === 0xdc00) start += 1;
  return text.slice(start);
}
