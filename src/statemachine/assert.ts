// Broken invariants are bugs: they throw an AssertionError and the process must die.
// Bad input from users or peers never reaches these; it gets an error value instead.
import nodeAssert from 'node:assert';

export function assert(condition: unknown, message: string): asserts condition {
  nodeAssert.ok(condition, message);
}

/** The item at `index`, which the caller knows is there (an index inside the bounds it checked). */
export function itemAt<T>(items: ArrayLike<T>, index: number): T {
  const item = items[index];
  if (item === undefined) nodeAssert.fail(`index ${index} outside 0..${items.length - 1}`);
  return item;
}
