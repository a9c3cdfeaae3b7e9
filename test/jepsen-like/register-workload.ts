// The job table as a set of registers: key k is the job `reg-k`, its value the job's
// `description`. put = PUT the job, get = GET it (404 = absent), delete = DELETE it.
// Clients pick a random node for every operation. A write whose answer never came (timeout,
// reset, 5xx after it may have been proposed) has an unknown outcome: returnMs = Infinity.
// A refused connection or a 4xx means the request was never applied; it is left out.
import { httpJson, type HttpAnswer } from '../../src/cli/http-client.js';
import type { KvOperation } from '../sim/linearizability.js';
import type { Prng } from '../support/prng.js';

export interface RegisterClientOptions {
  readonly keys: readonly string[];
  /** Node ids and how to reach them (the current http address of each). */
  readonly nodes: () => readonly { id: string; http: string }[];
  readonly timeoutMs: number;
  /** Reads ask for `?stale=true`: local state without ReadIndex (to show the checker catches it). */
  readonly staleReads?: boolean;
  readonly prng: Prng;
  readonly clientId: string;
  /** Milliseconds on the runner's monotonic clock. */
  readonly now: () => number;
  readonly record: (op: RecordedOp) => void;
  readonly stopped: () => boolean;
}

export interface RecordedOp extends KvOperation {
  readonly node: string;
  /** What the client saw, for the report. */
  readonly outcome: string;
}

export const jobIdOfKey = (key: string) => `reg-${key}`;

export function registerJob(value: string): Record<string, unknown> {
  return { schedule: '@manual', executor: { type: 'shell', command: 'true' }, description: value };
}

/** One client: sequential operations until stopped. */
export async function runRegisterClient(options: RegisterClientOptions): Promise<void> {
  const { prng } = options;
  let seq = 0;
  while (!options.stopped()) {
    const nodes = options.nodes();
    const node = nodes[prng.int(nodes.length)];
    const key = options.keys[prng.int(options.keys.length)] as string;
    if (node === undefined) break;
    const roll = prng.float();
    const kind = roll < 0.5 ? 'get' : roll < 0.9 ? 'put' : 'delete';
    const value = kind === 'put' ? `${options.clientId}.${++seq}` : null;
    const path = `/v1/jobs/${jobIdOfKey(key)}${kind === 'get' && options.staleReads === true ? '?stale=true' : ''}`;
    const callMs = options.now();
    let answer: HttpAnswer | null = null;
    let failure = '';
    try {
      answer = await httpJson(kind === 'get' ? 'GET' : kind === 'put' ? 'PUT' : 'DELETE', `http://${node.http}${path}`, kind === 'put' ? registerJob(value as string) : undefined, options.timeoutMs);
    } catch (error) {
      failure = String((error as Error).message ?? error);
    }
    const returnMs = options.now();
    const op = interpret(kind, key, value, answer, failure);
    if (op !== null) options.record({ clientId: options.clientId, kind, key, value: op.value, callMs, returnMs: op.known ? returnMs : Infinity, node: node.id, outcome: op.outcome });
    // A short pause keeps the history small enough to check and the cluster not saturated.
    await new Promise((r) => setTimeout(r, 10 + prng.int(40)));
  }
}

/** What an answer means for the history; null = the operation certainly had no effect. */
export function interpret(kind: 'get' | 'put' | 'delete', key: string, value: string | null, answer: HttpAnswer | null, failure: string): { value: string | null; known: boolean; outcome: string } | null {
  if (answer === null) {
    // Nothing was sent if the connection was refused: the node was down.
    if (failure.includes('ECONNREFUSED')) return null;
    return kind === 'get' ? null : { value, known: false, outcome: `unknown: ${failure.slice(0, 100)}` };
  }
  const { status } = answer;
  if (kind === 'get') {
    if (status === 200) return { value: String((answer.body as { description?: unknown }).description ?? ''), known: true, outcome: 'ok' };
    if (status === 404) return { value: null, known: true, outcome: 'absent' };
    return null;
  }
  if (kind === 'put' && (status === 200 || status === 201)) return { value, known: true, outcome: String(status) };
  if (kind === 'delete' && (status === 204 || status === 404)) return { value: null, known: true, outcome: String(status) };
  // A put re-sent after its leader died, whose first try took effect and whose job another
  // client deleted since (docs/api.md, "During an election"): it was applied, once, between
  // the call and this answer.
  if (kind === 'put' && status === 409 && typeof answer.body === 'object' && answer.body !== null && Reflect.get(answer.body, 'code') === 'WRITE_REPEATED') return { value, known: true, outcome: '409 WRITE_REPEATED' };
  // 429: the leader's proposal queue was full, so the write was refused before it was proposed.
  if (status === 429) return null;
  if (status >= 400 && status < 500 && status !== 408) throw new Error(`register ${kind} ${key} was refused: ${status} ${answer.text.slice(0, 300)}`);
  // 5xx: the write may have been proposed before the error (a forward that timed out).
  return { value, known: false, outcome: `unknown: ${status}` };
}
