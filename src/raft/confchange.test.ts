import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyConfChange, checkConfChange } from './confchange.js';

test('a voter can be demoted to a learner, except the last one', () => {
  const conf = { voters: ['a', 'b', 'c'], learners: ['w'] };
  const demote = { type: 'addLearner', node: 'b', context: '' } as const;
  assert.equal(checkConfChange(conf, demote), null);
  assert.deepEqual(applyConfChange(conf, demote), { voters: ['a', 'c'], learners: ['w', 'b'] });
  assert.match(checkConfChange(conf, { type: 'addLearner', node: 'w', context: '' }) ?? '', /already a learner/);
  const sole = { voters: ['a'], learners: [] };
  assert.match(checkConfChange(sole, { type: 'addLearner', node: 'a', context: '' }) ?? '', /last voter/);
  assert.equal(applyConfChange(sole, { type: 'addLearner', node: 'a', context: '' }), sole, 'total: an unfit change leaves the membership');
  assert.deepEqual(applyConfChange(conf, { type: 'addVoter', node: 'w', context: '' }), { voters: ['a', 'b', 'c', 'w'], learners: [] });
});
