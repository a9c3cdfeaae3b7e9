// Broken invariants are bugs: they throw an AssertionError and the process must die.
// Bad input from users, peers or the log never reaches these; it gets a Refused value.
import nodeAssert from 'node:assert';

export function assert(condition: unknown, message: string): asserts condition {
  nodeAssert.ok(condition, message);
}
