// Small checkers for untrusted input. Each records a {path, message} and returns null on a
// bad value, so one pass reports every problem of a spec.
import { utf8Bytes } from './defaults.js';
import { isMap, isOneOf } from '../guards/index.js';

export type FieldError = { readonly path: string; readonly message: string };

export class Checker {
  readonly errors: FieldError[] = [];

  fail(path: string, message: string): null {
    this.errors.push({ path, message });
    return null;
  }

  /** A plain object with only `allowed` keys; unknown keys are each an error. */
  object(value: unknown, path: string, allowed: readonly string[]): { readonly [field: string]: unknown } | null {
    if (!isMap(value)) return this.fail(path || '(spec)', 'must be an object');
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) this.fail(join(path, key), 'unknown field');
    }
    return value;
  }

  string(value: unknown, path: string, charsMax: number, pattern?: RegExp, patternHint?: string): string | null {
    if (typeof value !== 'string') return this.fail(path, 'must be a string');
    if (value.length > charsMax) return this.fail(path, `must be at most ${charsMax} characters`);
    if (pattern !== undefined && !pattern.test(value)) return this.fail(path, `must match ${patternHint ?? pattern.source}`);
    return value;
  }

  integer(value: unknown, path: string, min: number, max: number): number | null {
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) return this.fail(path, 'must be an integer');
    if (value < min || value > max) return this.fail(path, `${value} is out of range ${min}-${max}`);
    return value;
  }

  boolean(value: unknown, path: string): boolean | null {
    if (typeof value !== 'boolean') return this.fail(path, 'must be true or false');
    return value;
  }

  oneOf<T extends string>(value: unknown, path: string, choices: readonly T[]): T | null {
    if (typeof value !== 'string' || !isOneOf(choices, value)) {
      return this.fail(path, `must be one of ${choices.map((c) => `"${c}"`).join(', ')}`);
    }
    return value;
  }

  /** A string-to-string map with bounded entries, key rule, value length and total bytes. */
  stringMap(value: unknown, path: string, rule: StringMapRule): Record<string, string> | null {
    if (!isMap(value)) return this.fail(path, 'must be an object of strings');
    const entries = Object.entries(value);
    if (entries.length > rule.entriesMax) return this.fail(path, `must have at most ${rule.entriesMax} entries`);
    const out: Record<string, string> = {};
    let bytes = 0;
    let ok = true;
    for (const [key, item] of entries) {
      if (key === '__proto__') ok = this.fail(join(path, key), 'is a reserved name') ?? false;
      else if (!rule.keyPattern.test(key)) ok = this.fail(join(path, key), `name must match ${rule.keyHint}`) ?? false;
      else if (typeof item !== 'string') ok = this.fail(join(path, key), 'must be a string') ?? false;
      else if (item.length > rule.valueCharsMax) ok = this.fail(join(path, key), `must be at most ${rule.valueCharsMax} characters`) ?? false;
      else {
        out[key] = item;
        bytes += utf8Bytes(key) + utf8Bytes(item);
      }
    }
    if (!ok) return null;
    if (bytes > rule.bytesMax) return this.fail(path, `must total at most ${rule.bytesMax} bytes`);
    return out;
  }
}

export type StringMapRule = {
  readonly entriesMax: number;
  readonly bytesMax: number;
  readonly keyPattern: RegExp;
  readonly keyHint: string;
  readonly valueCharsMax: number;
};

export function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}
