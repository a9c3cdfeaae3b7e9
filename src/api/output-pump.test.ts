import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { pump, type DrainTarget } from './routes-output.js';
import type { OutputChunks } from './services.js';

/** A client whose socket takes `accept` chunks and then nothing (write returns false). */
class SlowClient extends EventEmitter implements DrainTarget {
  destroyed = false;
  ended = false;
  written = 0;
  constructor(private accept: number) {
    super();
  }
  write(): boolean {
    this.written += 1;
    this.accept -= 1;
    return this.accept > 0;
  }
  end(): void {
    this.ended = true;
  }
  destroy(): void {
    this.destroyed = true;
    this.emit('close');
  }
}

/** An endless source that counts how often it was asked, like the disk reader (nothing read ahead). */
function endless(): OutputChunks & { reads: number; closed: boolean } {
  const source = {
    reads: 0,
    closed: false,
    next: async (): Promise<IteratorResult<Uint8Array>> => {
      source.reads += 1;
      return { done: false, value: new Uint8Array(64 * 1024) };
    },
    close: async (): Promise<void> => {
      source.closed = true;
    },
  };
  return source;
}

test('a client that stops reading holds the stream: no chunk is read ahead, and it is cut off after the drain timeout', async () => {
  const client = new SlowClient(3);
  const source = endless();
  const started = Date.now();
  await pump(client, source, 200);
  assert.equal(client.written, 3, 'the third write filled the socket; nothing more was written');
  assert.equal(source.reads, 3, 'the source was not asked for a chunk the client had no room for');
  assert.ok(client.destroyed && !client.ended);
  assert.ok(source.closed, 'the reader (and its files) were closed');
  assert.ok(Date.now() - started >= 190);
});

test('a client that drains gets every chunk and the end', async () => {
  const client = new SlowClient(1);
  let left = 5;
  let closed = false;
  const source: OutputChunks = {
    next: async () => (left-- > 0 ? { done: false, value: new Uint8Array(10) } : { done: true, value: undefined }),
    close: async () => {
      closed = true;
    },
  };
  const pumping = pump(client, source, 5000);
  // Each write fills the socket; drain it each time.
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setImmediate(r));
    client.emit('drain');
  }
  await pumping;
  assert.equal(client.written, 5);
  assert.ok(client.ended && closed);
});

test('a client that goes away closes the reader', async () => {
  const client = new SlowClient(1);
  const source = endless();
  const pumping = pump(client, source, 60_000);
  await new Promise((r) => setImmediate(r));
  client.destroy();
  await pumping;
  assert.ok(source.closed);
  assert.equal(source.reads, 1);
});
