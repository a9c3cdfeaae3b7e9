import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../support/prng.js';
import { CALM_NETWORK, SimNetwork, bridge, isolate, link, oneWay, ring, splitGroups } from './network.js';

const ALL = ['a', 'b', 'c', 'd', 'e'];

function reachable(links: readonly string[], from: string, to: string): boolean {
  return from === to || !links.includes(link(from, to));
}

test('a calm network delivers every message exactly once within the delay range', () => {
  const net = new SimNetwork(new Prng(1), CALM_NETWORK);
  for (let i = 0; i < 1000; i++) {
    const d = net.route('a', 'b');
    assert.equal(d.length, 1);
    assert.ok((d[0] as number) >= CALM_NETWORK.delayMsMin && (d[0] as number) <= CALM_NETWORK.delayMsMax);
  }
});

test('drop and duplicate probabilities are honoured', () => {
  const net = new SimNetwork(new Prng(2), { ...CALM_NETWORK, dropProbability: 0.3, duplicateProbability: 0.2 });
  let dropped = 0;
  let duplicated = 0;
  const n = 20_000;
  for (let i = 0; i < n; i++) {
    const d = net.route('a', 'b');
    if (d.length === 0) dropped++;
    if (d.length === 2) duplicated++;
  }
  assert.ok(Math.abs(dropped / n - 0.3) < 0.02, `dropped ${dropped}`);
  assert.ok(Math.abs(duplicated / (n - dropped) - 0.2) < 0.02, `duplicated ${duplicated}`);
});

test('reordering holds some messages back past later ones', () => {
  const net = new SimNetwork(new Prng(3), { ...CALM_NETWORK, delayMsMin: 1, delayMsMax: 1, reorderProbability: 0.5, reorderDelayMsMax: 50 });
  const delays = Array.from({ length: 200 }, () => net.route('a', 'b')[0] as number);
  assert.ok(delays.some((d) => d > 1) && delays.some((d) => d === 1));
});

test('a blocked link drops everything in that direction only; heal restores it', () => {
  const net = new SimNetwork(new Prng(4), CALM_NETWORK);
  net.setBlocked(oneWay(['a'], ['b']));
  assert.deepEqual(net.route('a', 'b'), []);
  assert.equal(net.route('b', 'a').length, 1);
  net.heal();
  assert.equal(net.route('a', 'b').length, 1);
});

test('the same seed routes identically', () => {
  const faults = { ...CALM_NETWORK, dropProbability: 0.1, duplicateProbability: 0.1, reorderProbability: 0.2, reorderDelayMsMax: 30, delayMsMax: 20 };
  const x = new SimNetwork(new Prng(5), faults);
  const y = new SimNetwork(new Prng(5), faults);
  for (let i = 0; i < 500; i++) assert.deepEqual(x.route('a', 'b'), y.route('a', 'b'));
});

test('partition shapes block exactly the links they describe', () => {
  const mm = splitGroups([['a', 'b'], ['c', 'd', 'e']]);
  assert.ok(reachable(mm, 'a', 'b') && reachable(mm, 'c', 'e'));
  assert.ok(!reachable(mm, 'a', 'c') && !reachable(mm, 'e', 'b'));

  const iso = isolate('c', ALL);
  for (const n of ALL) if (n !== 'c') assert.ok(!reachable(iso, 'c', n) && !reachable(iso, n, 'c') && reachable(iso, n, n === 'a' ? 'b' : 'a'));

  const br = bridge(['a', 'b'], ['d', 'e']); // c sees both sides
  assert.ok(!reachable(br, 'a', 'd') && !reachable(br, 'e', 'b'));
  assert.ok(reachable(br, 'c', 'a') && reachable(br, 'd', 'c') && reachable(br, 'a', 'b'));

  const r = ring(ALL);
  assert.ok(reachable(r, 'a', 'b') && reachable(r, 'a', 'e') && reachable(r, 'c', 'd'));
  assert.ok(!reachable(r, 'a', 'c') && !reachable(r, 'b', 'e'));
});

test('bad fault settings are refused', () => {
  assert.throws(() => new SimNetwork(new Prng(1), { ...CALM_NETWORK, dropProbability: 2 }));
  assert.throws(() => new SimNetwork(new Prng(1), { ...CALM_NETWORK, delayMsMin: 5, delayMsMax: 1 }));
});
