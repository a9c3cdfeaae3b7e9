import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WriteQueue } from './write-queue.js';

test('an idle queue starts a write before run returns, so the caller overlaps its own work with it', async () => {
  const queue = new WriteQueue(4);
  let started = false;
  const done = queue.run(async () => {
    started = true;
    await Promise.resolve();
    return 'written';
  });
  assert.equal(started, true);
  assert.equal(await done, 'written');
});

test('a write queued behind another starts only once that one has settled, failed or not', async () => {
  const queue = new WriteQueue(4);
  const order: string[] = [];
  let release!: () => void;
  const first = queue.run(async () => {
    order.push('first starts');
    await new Promise<void>((resolve) => (release = resolve));
    order.push('first ends');
    throw new Error('disk full');
  });
  const second = queue.run(async () => {
    order.push('second starts');
  });
  await Promise.resolve();
  assert.deepEqual(order, ['first starts']);
  release();
  await assert.rejects(first, /disk full/);
  await second;
  assert.deepEqual(order, ['first starts', 'first ends', 'second starts']);
  assert.equal(queue.size, 0);
});

test('a write that queues another before its first await is refused, and the queue goes on', async () => {
  const queue = new WriteQueue(4);
  await assert.rejects(queue.run(() => queue.run(async () => 'nested')), /queues no other write before its first await/);
  assert.equal(await queue.run(async () => 'next'), 'next');
});

test('the queue holds at most its limit of writes', async () => {
  const queue = new WriteQueue(1);
  let release!: () => void;
  const first = queue.run(() => new Promise<void>((resolve) => (release = resolve)));
  await assert.rejects(queue.run(async () => undefined), { code: 'STORAGE_QUEUE_FULL' });
  release();
  await first;
});
