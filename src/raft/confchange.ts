import assert from 'node:assert/strict';
import type { ConfChange, ConfState } from './types.js';
import { isOneOf } from './util.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const TYPES = ['addLearner', 'addVoter', 'remove'] as const satisfies readonly ConfChange['type'][];

export function encodeConfChange(change: ConfChange): Uint8Array {
  return encoder.encode(JSON.stringify({ type: change.type, node: change.node, context: change.context }));
}

function isRecord(value: unknown): value is { readonly [field: string]: unknown } {
  return typeof value === 'object' && value !== null;
}

/** Conf entries are written only by a leader's core, so a malformed one is a broken invariant. */
export function decodeConfChange(data: Uint8Array): ConfChange {
  const value: unknown = JSON.parse(decoder.decode(data));
  assert.ok(isRecord(value), 'conf change is an object');
  const { type, node, context } = value;
  assert.ok(isOneOf(TYPES, type), `conf change type ${String(type)}`);
  assert.ok(typeof node === 'string' && node.length > 0, 'conf change names a node');
  assert.ok(typeof context === 'string', 'conf change context is a string');
  return { type, node, context };
}

/** Why `change` cannot be proposed against `conf`, or null when it can. */
export function checkConfChange(conf: ConfState, change: ConfChange): string | null {
  const voter = conf.voters.includes(change.node);
  const learner = conf.learners.includes(change.node);
  switch (change.type) {
    case 'addLearner':
      // On a voter: a demotion, a single change of the voter set like a removal.
      if (voter && conf.voters.length === 1) return 'cannot demote the last voter';
      if (learner) return `${change.node} is already a learner`;
      return null;
    case 'addVoter':
      return voter ? `${change.node} is already a voter` : null;
    case 'remove':
      if (!voter && !learner) return `${change.node} is not a member`;
      if (voter && conf.voters.length === 1) return 'cannot remove the last voter';
      return null;
  }
}

/**
 * The membership after `change`. Total: a change that no longer fits (it was checked when
 * proposed) leaves the membership as it is, identically on every replica.
 */
export function applyConfChange(conf: ConfState, change: ConfChange): ConfState {
  const without = (ids: readonly string[]) => ids.filter((id) => id !== change.node);
  switch (change.type) {
    case 'addLearner':
      if (conf.learners.includes(change.node)) return conf;
      if (!conf.voters.includes(change.node)) return { voters: conf.voters, learners: [...conf.learners, change.node] };
      if (conf.voters.length === 1) return conf;
      return { voters: without(conf.voters), learners: [...conf.learners, change.node] };
    case 'addVoter':
      if (conf.voters.includes(change.node)) return conf;
      return { voters: [...conf.voters, change.node], learners: without(conf.learners) };
    case 'remove':
      if (conf.voters.includes(change.node) && conf.voters.length === 1) return conf;
      return { voters: without(conf.voters), learners: without(conf.learners) };
  }
}
