// A closed-loop HTTP load generator: `concurrency` workers, each sending its next request as
// soon as the previous one answered, over keep-alive connections, for a fixed time. With
// `ca`, it speaks HTTPS trusting that CA only; connections are kept alive like real
// clients', so a handshake is paid once per connection, not per request.
import { readFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface LoadRequest {
  readonly url: URL;
  readonly method: string;
  readonly body: Buffer;
  /** Sent with the request besides content-type and content-length (an Authorization header). */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface LoadResult {
  readonly concurrency: number;
  readonly seconds: number;
  readonly ok: number;
  readonly failed: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly firstError: string | null;
}

/** The value below which fraction `p` of the sorted samples lie. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))] ?? 0;
}

export interface LoadOptions {
  /** Speak HTTPS (every request's URL is https://) trusting this CA's PEM, and nothing else. */
  readonly ca?: string;
}

function send(agent: Agent, r: LoadRequest, timeoutMs: number): Promise<number> {
  const request = agent instanceof HttpsAgent ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      { agent, host: r.url.hostname, port: r.url.port, method: r.method, path: r.url.pathname + r.url.search, headers: { ...r.headers, 'content-type': 'application/json', 'content-length': String(r.body.length) }, timeout: timeoutMs },
      (res) => {
        res.on('data', () => undefined);
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(r.body);
  });
}

/**
 * Runs `concurrency` workers for `seconds`; `next(n)` builds the n-th request (n counts up
 * across all workers, so ids are distinct), stopping early after `maxRequests`. A 2xx
 * answer counts as ok. Every request goes through one agent: HTTPS ones need `options.ca`.
 */
export async function runLoad(concurrency: number, seconds: number, next: (n: number) => LoadRequest, maxRequests = Number.POSITIVE_INFINITY, options: LoadOptions = {}): Promise<LoadResult> {
  const pool = { keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency };
  const agent = options.ca === undefined ? new Agent(pool) : new HttpsAgent({ ...pool, ca: options.ca });
  const latenciesMs: number[] = [];
  let failed = 0;
  let counter = 0;
  let firstError: string | null = null;
  const started = performance.now();
  const until = started + seconds * 1000;
  const worker = async () => {
    while (performance.now() < until && counter < maxRequests) {
      const r = next(counter++);
      const t0 = performance.now();
      try {
        const status = await send(agent, r, 10_000);
        if (status >= 200 && status < 300) latenciesMs.push(performance.now() - t0);
        else {
          failed++;
          firstError ??= `HTTP ${status}`;
        }
      } catch (error) {
        failed++;
        firstError ??= (error as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - started) / 1000;
  agent.destroy();
  latenciesMs.sort((a, b) => a - b);
  return {
    concurrency,
    seconds: elapsed,
    ok: latenciesMs.length,
    failed,
    perSecond: latenciesMs.length / elapsed,
    p50Ms: percentile(latenciesMs, 0.5),
    p99Ms: percentile(latenciesMs, 0.99),
    firstError,
  };
}

/** CPU time (user + system) the processes used so far, in ms; 0 where /proc is missing. */
export function cpuMs(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      // Fields after the command name (which may hold spaces) start at the state field (3rd).
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // not Linux, or the process is gone
    }
  }
  return ticks * 10; // USER_HZ is 100 on Linux
}

/** The machine's CPU time so far, busy and in all, in jiffies summed over its cores; null where /proc/stat is missing. */
export function machineJiffies(): { readonly busy: number; readonly total: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    // cpu user nice system idle iowait irq softirq steal …: idle and iowait are the idle time.
    const fields = line.trim().split(/\s+/).slice(1).map(Number);
    const total = fields.reduce((sum, x) => sum + x, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}
