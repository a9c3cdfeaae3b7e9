// An HTTP/1.1 sink that costs as little as possible per request, for benches that measure
// when requests arrive. node:http spends ~50-100 µs per request, so the last of a
// 1,000-request burst was handled (and stamped) 50+ ms after its bytes arrived. This one reads
// requests off the socket (request line, headers, a content-length body), stamps each as its
// bytes arrive and answers 204 with keep-alive.
import { createServer, type Server, type Socket } from 'node:net';

const NO_CONTENT = 'HTTP/1.1 204 No Content\r\nKeep-Alive: timeout=30\r\n\r\n';
const PENDING_BYTES_MAX = 1 << 20;

/** `onRequest(target, arrivedAtMs)` runs for every request; keep it cheap, it delays the next stamp. */
export function createRawSink(onRequest: (target: string, arrivedAtMs: number) => void): Server {
  // Answers wait for the end of the event loop's poll phase: each is a socket write (~0.1 ms
  // here), and writing them in between would stamp the later requests of a burst late.
  const owedAnswers = new Map<Socket, number>();
  const answerOwed = (): void => {
    for (const [socket, count] of owedAnswers) if (!socket.destroyed) socket.write(NO_CONTENT.repeat(count));
    owedAnswers.clear();
  };
  return createServer((socket) => {
    let pending = '';
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      const arrivedAtMs = Date.now();
      pending += chunk.toString('latin1');
      for (;;) {
        const headEnd = pending.indexOf('\r\n\r\n');
        if (headEnd < 0) break;
        const head = pending.slice(0, headEnd);
        const bodyBytes = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? '0');
        if (pending.length < headEnd + 4 + bodyBytes) break;
        pending = pending.slice(headEnd + 4 + bodyBytes);
        const targetStart = head.indexOf(' ') + 1;
        onRequest(head.slice(targetStart, head.indexOf(' ', targetStart)), arrivedAtMs);
        if (owedAnswers.size === 0) setImmediate(answerOwed);
        owedAnswers.set(socket, (owedAnswers.get(socket) ?? 0) + 1);
      }
      if (pending.length > PENDING_BYTES_MAX) socket.destroy();
    });
    socket.on('error', () => socket.destroy());
  });
}
