import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeId } from '../raft/index.js';
import type { Envelope } from './envelope.js';
import { MemoryNetwork } from './memory-transport.js';
import { seededInt as createRandom } from '../../test/support/prng.js';
import { sampleMessages } from '../../test/support/rpc-messages.js';
import { waitFor } from '../../test/support/wait-for.js';

function setup(t: { after: (fn: () => void) => void }) {
  const random = createRandom(11);
  const network = new MemoryNetwork(() => random(1_000_000) / 1_000_000);
  t.after(() => network.close());
  const inbox = new Map<NodeId, { from: NodeId; envelope: Envelope }[]>();
  const unreachable: NodeId[] = [];
  const peers = new Map([['a', 'a:1'], ['b', 'b:1'], ['c', 'c:1']]);
  const nodes = Object.fromEntries(['a', 'b', 'c'].map((id) => {
    inbox.set(id, []);
    const transport = network.join(id, { onMessage: (from, envelope) => inbox.get(id)?.push({ from, envelope }), onUnreachable: (p) => unreachable.push(p) });
    transport.setPeers(peers);
    return [id, transport];
  }));
  return { network, nodes, inbox, unreachable };
}

test('messages are delivered asynchronously, encoded and validated like on the wire', async (t) => {
  const { nodes, inbox } = setup(t);
  const message = sampleMessages('a', 'b')[0];
  assert.ok(message !== undefined);
  nodes['a']?.send('b', { channel: 'raft', message });
  assert.equal(inbox.get('b')?.length, 0, 'not delivered synchronously');
  await waitFor('delivery', () => inbox.get('b')?.length === 1);
  assert.deepEqual(inbox.get('b')?.[0], { from: 'a', envelope: { channel: 'raft', message } });
});

test('a partition blocks one direction only; heal restores it', async (t) => {
  const { network, nodes, inbox } = setup(t);
  network.partition('a', 'b');
  nodes['a']?.send('b', { channel: 'exec', body: 'blocked' });
  nodes['b']?.send('a', { channel: 'exec', body: 'open' });
  await waitFor('reverse direction', () => inbox.get('a')?.length === 1);
  assert.equal(inbox.get('b')?.length, 0);
  assert.equal(nodes['a']?.metrics.framesDroppedConnectionLost, 1);
  network.heal();
  nodes['a']?.send('b', { channel: 'exec', body: 'healed' });
  await waitFor('after heal', () => inbox.get('b')?.length === 1);
});

test('drop rate, delay and a custom filter act per link', async (t) => {
  const { network, nodes, inbox } = setup(t);
  network.setDropRate('a', 'b', 1);
  network.setDelay('a', 'c', 30);
  network.setFilter((from, to, envelope) => (envelope.channel === 'report' ? { action: 'drop' } : { action: 'deliver', delayMs: 0 }));
  for (let i = 0; i < 10; i++) nodes['a']?.send('b', { channel: 'exec', body: i });
  const sentAt = Date.now();
  nodes['a']?.send('c', { channel: 'exec', body: 'slow' });
  nodes['b']?.send('c', { channel: 'report', body: 'filtered' });
  await waitFor('delayed delivery', () => inbox.get('c')?.length === 1);
  assert.ok(Date.now() - sentAt >= 25, 'the delay held the message back');
  assert.equal(inbox.get('b')?.length, 0);
  assert.deepEqual(inbox.get('c')?.map((m) => m.envelope), [{ channel: 'exec', body: 'slow' }]);
});

test('isolate cuts a node off both ways; a node that left is reported unreachable', async (t) => {
  const { network, nodes, inbox, unreachable } = setup(t);
  network.isolate(['c']);
  nodes['c']?.send('a', { channel: 'exec', body: 1 });
  nodes['a']?.send('c', { channel: 'exec', body: 2 });
  nodes['a']?.send('b', { channel: 'exec', body: 3 });
  await waitFor('a to b', () => inbox.get('b')?.length === 1);
  assert.equal(inbox.get('a')?.length, 0);
  assert.equal(inbox.get('c')?.length, 0);
  await nodes['b']?.close();
  nodes['a']?.send('b', { channel: 'exec', body: 4 });
  assert.deepEqual(unreachable, ['b']);
  assert.equal(nodes['a']?.send('zz', { channel: 'exec', body: 5 }), false);
});
