// The short version of `npm run mutate`, inside `npm test`: the catalogue still applies to
// the code, and three mutants that the Raft tests catch quickly are caught (with a short
// simulator run each, so the whole pipeline is exercised). About 30 s on two cores.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MUTANTS } from './catalogue.js';
import { applyMutant, caught, checkCatalogue, failingTests, runMutants } from './runner.js';

test('every mutant of the catalogue applies to the current code exactly once', () => {
  assert.deepEqual(checkCatalogue(MUTANTS), []);
});

test('a mutant whose search text is missing or ambiguous is refused, not skipped', () => {
  const mutant = { name: 'probe', file: 'x.ts', search: 'a', replace: 'b', rule: '' };
  assert.equal(applyMutant('xay', mutant), 'xby');
  assert.throws(() => applyMutant('xyz', mutant), /occurs 0 times/);
  assert.throws(() => applyMutant('aa', mutant), /occurs 2 times/);
});

test('failing test names are read from TAP output, file wrappers left out', () => {
  const tap = ['# Subtest: /tmp/x/dist/src/raft/raft-paper.test.js', '    not ok 3 - §5.2: each server votes for at most one candidate', '    not ok 4 - todo one # TODO', 'not ok 1 - /tmp/x/dist/src/raft/raft-paper.test.js', 'ok 2 - fine'].join('\n');
  assert.deepEqual(failingTests(tap), ['§5.2: each server votes for at most one candidate', 'todo one']);
});

const SHORT = ['commit-any-term', 'learners-count-for-commit', 'vote-reply-before-sync'];
/** The simulator alone catches these within the short run's seeds (commit-own-term and committed-majority, both at seed 1). */
const SIM_CATCHES = ['commit-any-term', 'learners-count-for-commit'];

test(`the short mutation run catches ${SHORT.join(', ')}`, { timeout: 180_000 }, async () => {
  const chosen = MUTANTS.filter((m) => SHORT.includes(m.name));
  assert.equal(chosen.length, SHORT.length);
  const outcomes = await runMutants(chosen, { seeds: 20, firstSeed: 1, nodes: 5, unitTimeoutMs: 60_000, simTimeoutMs: 120_000 }, 1);
  for (const o of outcomes) {
    assert.equal(o.error, null, `${o.mutant.name}: ${o.error}`);
    assert.ok(o.simRan, `${o.mutant.name}: the simulator ran`);
    assert.ok(caught(o) && o.unitFailures.length > 0, `${o.mutant.name} survived the Raft tests`);
    if (SIM_CATCHES.includes(o.mutant.name)) assert.ok(o.sim !== null, `${o.mutant.name} survived 20 simulator seeds`);
  }
});
