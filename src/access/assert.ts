// Broken invariants are bugs: they throw an AssertionError and the process must die.
// Bad input from users, peers or the log never reaches these; it gets a Refused value.
import nodeAssert from 'node:assert';

export function assert(condition: unknown, message: string): asserts condition {
  nodeAssert.ok(condition, message);
}

/**
 * The item at `index`, which the caller knows is there: an index inside bounds it checked, or
 * a capture group that is not optional. A broken bound is a bug and throws.
 */
export function itemAt<T>(items: ArrayLike<T | undefined>, index: number): T {
  const item = items[index];
  if (item === undefined) nodeAssert.fail(`index ${index} outside 0..${items.length - 1}`);
  return item;
}
