// Readers of the API's answers for the CLI's tables and lines. A body is unknown until read
// here, field by field; a field of the wrong type is an OperationError (exit 1) that names
// it, never a crash or a line of "undefined". `--json` prints bodies as they came.
import { OperationError } from './usage.js';

export type Fields = { readonly [field: string]: unknown };

function unexpected(what: string): OperationError {
  return new OperationError(`unexpected answer from the server: ${what}`);
}

/** A JSON object (not an array, not null). */
export function isFields(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function fieldsOf(value: unknown, what: string): Fields {
  if (!isFields(value)) throw unexpected(`${what} is not an object`);
  return value;
}

export function text(o: Fields, key: string, what: string): string {
  const value = o[key];
  if (typeof value !== 'string') throw unexpected(`${what}.${key} is not a string`);
  return value;
}

export function textOrNull(o: Fields, key: string, what: string): string | null {
  const value = o[key];
  if (value !== null && typeof value !== 'string') throw unexpected(`${what}.${key} is not a string or null`);
  return value;
}

/** A field that may be left out: undefined when absent, else a string. */
export function optionalText(o: Fields, key: string, what: string): string | undefined {
  const value = o[key];
  if (value !== undefined && typeof value !== 'string') throw unexpected(`${what}.${key} is not a string`);
  return value;
}

export function num(o: Fields, key: string, what: string): number {
  const value = o[key];
  if (typeof value !== 'number') throw unexpected(`${what}.${key} is not a number`);
  return value;
}

export function numOrNull(o: Fields, key: string, what: string): number | null {
  const value = o[key];
  if (value !== null && typeof value !== 'number') throw unexpected(`${what}.${key} is not a number or null`);
  return value;
}

export function flag(o: Fields, key: string, what: string): boolean {
  const value = o[key];
  if (typeof value !== 'boolean') throw unexpected(`${what}.${key} is not true or false`);
  return value;
}

/** A list field, each item read by `read` (which names the item it refuses). */
export function listOf<T>(o: Fields, key: string, what: string, read: (item: unknown, what: string) => T): T[] {
  const value = o[key];
  if (!Array.isArray(value)) throw unexpected(`${what}.${key} is not a list`);
  const items: readonly unknown[] = value;
  return items.map((item, i) => read(item, `${what}.${key}[${i}]`));
}
