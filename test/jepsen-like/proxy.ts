// A TCP proxy for one directed link (node A dials node B through it). The runner owns one per
// ordered pair, so a nemesis can break one direction of one link from outside the agents:
//   up     bytes flow both ways (the handshake answer included);
//   cut    every connection is reset and new ones are refused at once, as after a RST;
//   stall  connections stay open but no byte moves, as a silent network drop; the held
//          connections are reset when the link heals (TCP would time them out);
//   delay  bytes flow, each chunk held `delayMs` (order kept).
import { createServer, connect, type Server, type Socket } from 'node:net';

export type LinkMode = { readonly kind: 'up' } | { readonly kind: 'cut' } | { readonly kind: 'stall' } | { readonly kind: 'delay'; readonly delayMs: number };

/** Bytes a stalled or delayed connection may hold per direction before it is reset. */
const HELD_BYTES_MAX = 8 << 20;

interface Pair {
  readonly client: Socket;
  readonly server: Socket;
}

export class LinkProxy {
  private server: Server | null = null;
  private mode: LinkMode = { kind: 'up' };
  private readonly pairs = new Set<Pair>();
  connections = 0;
  port = 0;

  /** `target` is read at each connection: a restarted node may listen elsewhere. */
  constructor(readonly from: string, readonly to: string, private readonly target: () => { host: string; port: number } | null) {}

  async listen(): Promise<number> {
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((done, fail) => {
      server.once('error', fail);
      server.listen(0, '127.0.0.1', () => done());
    });
    const address = server.address();
    this.port = typeof address === 'object' && address !== null ? address.port : 0;
    return this.port;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  currentMode(): LinkMode {
    return this.mode;
  }

  setMode(mode: LinkMode): void {
    const previous = this.mode;
    this.mode = mode;
    // Leaving stall or entering cut resets what is open: held bytes must not arrive late.
    if (mode.kind === 'cut' || (previous.kind === 'stall' && mode.kind !== 'stall')) this.resetAll();
  }

  async close(): Promise<void> {
    this.resetAll();
    const server = this.server;
    this.server = null;
    if (server !== null) await new Promise<void>((done) => server.close(() => done()));
  }

  private resetAll(): void {
    for (const pair of this.pairs) {
      pair.client.destroy();
      pair.server.destroy();
    }
    this.pairs.clear();
  }

  private accept(client: Socket): void {
    const target = this.target();
    if (this.mode.kind === 'cut' || target === null) {
      client.destroy();
      return;
    }
    this.connections++;
    const server = connect(target);
    const pair: Pair = { client, server };
    this.pairs.add(pair);
    const drop = () => {
      this.pairs.delete(pair);
      client.destroy();
      server.destroy();
    };
    client.on('error', drop).on('close', drop);
    server.on('error', drop).on('close', drop);
    this.pipe(client, server, drop);
    this.pipe(server, client, drop);
  }

  /** Moves bytes from `source` to `sink` according to the mode at the time each chunk arrives. */
  private pipe(source: Socket, sink: Socket, drop: () => void): void {
    const held: Buffer[] = [];
    let heldBytes = 0;
    let timer: NodeJS.Timeout | null = null;
    const flush = () => {
      timer = null;
      if (this.mode.kind === 'stall') return; // stays held until the link heals (then reset)
      while (held.length > 0) {
        const chunk = held.shift() as Buffer;
        heldBytes -= chunk.length;
        sink.write(chunk);
      }
    };
    source.on('data', (chunk: Buffer) => {
      const mode = this.mode;
      if (mode.kind === 'up' && held.length === 0) {
        sink.write(chunk);
        return;
      }
      held.push(chunk);
      heldBytes += chunk.length;
      if (heldBytes > HELD_BYTES_MAX) return drop();
      if (mode.kind === 'delay' && timer === null) timer = setTimeout(flush, mode.delayMs);
      else if (mode.kind === 'up' && timer === null) timer = setTimeout(flush, 0);
    });
    source.on('close', () => {
      if (timer !== null) clearTimeout(timer);
    });
  }
}
