// Type guards for decoded input (commands from the log, snapshot bodies, user specs). Each
// narrows by what it tests, so a checked value needs no type assertion afterwards. Pure and
// allocation-free: commands are checked on every replica.

/** Any non-null object: every field reads as unknown until checked. */
export function isRecord(value: unknown): value is { readonly [field: string]: unknown } {
  return typeof value === 'object' && value !== null;
}

/** A JSON-style map: a non-null object that is not an array. */
export function isMap(value: unknown): value is { readonly [field: string]: unknown } {
  return isRecord(value) && !Array.isArray(value);
}

/** Whether `value` is one of `choices` (a literal tuple), narrowing it to their union. */
export function isOneOf<const T extends readonly unknown[]>(choices: T, value: unknown): value is T[number] {
  return choices.includes(value);
}
