// Loaded into agent processes with `node --import` by tests that inject faults, so that the
// agent itself carries no test hooks. From the environment:
//   CHIME_FAULT_CLOCK_OFFSET_MS, CHIME_FAULT_CLOCK_RATE — the wall clock (Date.now) is shifted
//     and runs at a rate (clock skew and drift for the scheduler); monotonic time is untouched.
//   CHIME_FAULT_DIAL=HOST:PORT=HOST:PORT,… — a TCP connection to the first address goes to the
//     second instead (the jepsen-like runner's per-link proxies).
import net from 'node:net';

const offsetMs = Number(process.env['CHIME_FAULT_CLOCK_OFFSET_MS'] ?? '0');
const rate = Number(process.env['CHIME_FAULT_CLOCK_RATE'] ?? '1');
if (offsetMs !== 0 || rate !== 1) {
  const realNow = Date.now.bind(Date);
  const startedMs = realNow();
  Date.now = () => Math.round(startedMs + offsetMs + (realNow() - startedMs) * rate);
}

const dial = new Map<string, { host: string; port: number }>();
for (const pair of (process.env['CHIME_FAULT_DIAL'] ?? '').split(',').filter(Boolean)) {
  const [from, to] = pair.split('=');
  const at = to?.lastIndexOf(':') ?? -1;
  if (from === undefined || to === undefined || at < 0) throw new Error(`CHIME_FAULT_DIAL: "${pair}" is not HOST:PORT=HOST:PORT`);
  dial.set(from, { host: to.slice(0, at), port: Number(to.slice(at + 1)) });
}

type ConnectOptions = { host?: string; port?: number | string };

/** The options with their target replaced when the dial map names it (mutated in place: callers keep the object). */
function redirect(options: ConnectOptions): void {
  const target = dial.get(`${options.host ?? 'localhost'}:${String(options.port)}`);
  if (target === undefined) return;
  options.host = target.host;
  options.port = target.port;
}

if (dial.size > 0) {
  // Every TCP client (net.connect, tls.connect, http) ends in Socket#connect, with either an
  // options object or Node's own normalized [options, callback] array.
  const original = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function connect(this: net.Socket, ...args: unknown[]) {
    const first = args[0];
    if (Array.isArray(first) && typeof first[0] === 'object' && first[0] !== null) redirect(first[0] as ConnectOptions);
    else if (typeof first === 'object' && first !== null) redirect(first as ConnectOptions);
    else if (typeof first === 'number' || typeof first === 'string') {
      const options: ConnectOptions = { port: first, host: typeof args[1] === 'string' ? args[1] : 'localhost' };
      redirect(options);
      args[0] = options.port;
      if (typeof args[1] === 'string') args[1] = options.host;
      else args.splice(1, 0, options.host);
    }
    return (original as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof original;
}
