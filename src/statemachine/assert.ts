// Broken invariants are bugs: they throw an AssertionError and the process must die.
// Bad input from users or peers never reaches these; it gets an error value instead.
import nodeAssert from 'node:assert';

export function assert(condition: unknown, message: string): asserts condition {
  nodeAssert.ok(condition, message);
}
