// Type guards for decoded input. Other folders import from here only.

/** Any non-null object: every field reads as unknown until checked. */
export function isRecord(value: unknown): value is { readonly [field: string]: unknown } {
  return typeof value === 'object' && value !== null;
}

/** A JSON-style map: a non-null object that is neither an array nor a byte array. */
export function isMap(value: unknown): value is { readonly [field: string]: unknown } {
  return isRecord(value) && !Array.isArray(value) && !(value instanceof Uint8Array);
}

/** Whether `value` is one of `choices` (a literal tuple), narrowing it to their union. */
export function isOneOf<const T extends readonly unknown[]>(choices: T, value: unknown): value is T[number] {
  return choices.includes(value);
}
