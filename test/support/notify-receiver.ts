// A webhook receiver for tests: an HTTP server on an OS-chosen loopback port that checks each
// request's Chime-Signature against the notify key and records every delivery in order of
// arrival. What it answers is up to the test (`answer`), so a test can make it fail, stall or
// acknowledge; it never decides anything by reading log text.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { verifySignature } from '../../src/notify/index.js';

export type Delivery = {
  readonly eventId: string;
  readonly signatureOk: boolean;
  readonly body: Readonly<Record<string, unknown>>;
  readonly atMs: number;
  /** The status this receiver answered. */
  readonly status: number;
  /** The request's headers as received (lower-case names). */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
};

/** Requests kept at most: a test that floods the receiver fails loudly instead of growing. */
const DELIVERIES_MAX = 100_000;

export class NotifyReceiver {
  readonly deliveries: Delivery[] = [];
  /** What to answer a delivery (default 200). */
  answer: (eventId: string, body: Readonly<Record<string, unknown>>) => number = () => 200;
  private server: Server | null = null;
  private port = 0;

  constructor(private readonly key: Uint8Array) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.receive(req, res));
    await new Promise<void>((done) => this.server?.listen(0, '127.0.0.1', done));
    const address = this.server.address();
    this.port = typeof address === 'object' && address !== null ? address.port : 0;
    return this.url('/hook');
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (server === null) return;
    server.closeAllConnections();
    await new Promise<void>((done) => server.close(() => done()));
  }

  /** Deliveries per event id: more than one means the event was sent again. */
  countsByEventId(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const d of this.deliveries) counts.set(d.eventId, (counts.get(d.eventId) ?? 0) + 1);
    return counts;
  }

  /** Event ids this receiver acknowledged (answered 2xx), with how often. */
  acknowledged(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const d of this.deliveries) if (d.status >= 200 && d.status < 300) counts.set(d.eventId, (counts.get(d.eventId) ?? 0) + 1);
    return counts;
  }

  private async receive(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
    const raw = Buffer.concat(chunks);
    const header = req.headers['chime-signature'];
    const signatureOk = verifySignature(this.key, raw, typeof header === 'string' ? header : undefined);
    let body: Readonly<Record<string, unknown>> = {};
    try {
      const parsed: unknown = JSON.parse(raw.toString('utf8'));
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) body = Object.fromEntries(Object.entries(parsed));
    } catch {
      body = {};
    }
    const idHeader = req.headers['chime-event-id'];
    const eventId = typeof idHeader === 'string' ? idHeader : '';
    const status = signatureOk ? this.answer(eventId, body) : 401;
    if (this.deliveries.length >= DELIVERIES_MAX) throw new Error(`the test receiver got more than ${DELIVERIES_MAX} deliveries`);
    this.deliveries.push({ eventId, signatureOk, body, atMs: Date.now(), status, headers: { ...req.headers } });
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end(status >= 200 && status < 300 ? 'ok' : 'no');
  }
}
