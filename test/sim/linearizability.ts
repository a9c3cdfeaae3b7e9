// A linearizability checker for a key-value register history, after the
// Wing & Gong / Lowe search that Porcupine uses: walk the history's call/return events,
// tentatively linearize any operation whose call has been reached, backtrack when a return
// is reached for an operation not yet linearized, and remember every (set of linearized
// operations, register value) already explored so no state is searched twice.
// The history is split per key first: the register of one key is independent of the others.
//
// An operation whose outcome the client never learned (a timeout, a crashed server) has
// returnMs = Infinity: it may take effect at any point after its call, or never.

export type KvOpKind = 'put' | 'get' | 'delete';

export interface KvOperation {
  readonly clientId: string;
  readonly kind: KvOpKind;
  readonly key: string;
  /** put: the value written; get: the value read (null = key absent); delete: null. */
  readonly value: string | null;
  readonly callMs: number;
  /** Infinity when the client never learned the outcome. */
  readonly returnMs: number;
}

export type LinearizabilityResult =
  | { readonly ok: true; readonly keys: number; readonly ops: number }
  | { readonly ok: false; readonly key: string; readonly reason: string }
  | { readonly ok: 'unknown'; readonly key: string; readonly reason: string };

export interface CheckOptions {
  /** Search steps allowed per key before giving up with ok: 'unknown'. */
  readonly stepsMaxPerKey?: number;
}

type RegisterValue = string | null;

interface EventNode {
  readonly op: number;
  readonly isCall: boolean;
  /** For a call: its matching return node. */
  match: EventNode | null;
  prev: EventNode | null;
  next: EventNode | null;
}

export function checkKvHistory(history: readonly KvOperation[], options: CheckOptions = {}): LinearizabilityResult {
  const byKey = new Map<string, KvOperation[]>();
  for (const op of history) {
    if (op.returnMs < op.callMs) return { ok: false, key: op.key, reason: `operation returns before its call: ${JSON.stringify(op)}` };
    if (op.kind === 'get' && op.returnMs === Infinity) continue; // an unanswered read has no effect
    let list = byKey.get(op.key);
    if (list === undefined) byKey.set(op.key, (list = []));
    list.push(op);
  }
  let opsChecked = 0;
  for (const key of [...byKey.keys()].sort()) {
    const ops = pruneUnobservedWrites(byKey.get(key) ?? []);
    opsChecked += ops.length;
    const result = checkRegister(key, ops, options.stepsMaxPerKey ?? 2_000_000);
    if (result !== null) return result;
  }
  return { ok: true, keys: byKey.size, ops: opsChecked };
}

/**
 * A put whose outcome is unknown and whose value no read returned can be dropped: placing it
 * in a linearization only forces the reads after it to see its value, which none did, so any
 * linearization with it stays valid without it. This keeps timed-out writes from making
 * the search exponential.
 */
function pruneUnobservedWrites(ops: readonly KvOperation[]): KvOperation[] {
  const read = new Set<string>();
  for (const op of ops) if (op.kind === 'get' && op.value !== null) read.add(op.value);
  return ops.filter((op) => !(op.kind === 'put' && op.returnMs === Infinity && op.value !== null && !read.has(op.value)));
}

function stepRegister(state: RegisterValue, op: KvOperation): { ok: boolean; state: RegisterValue } {
  switch (op.kind) {
    case 'put':
      return { ok: true, state: op.value };
    case 'delete':
      return { ok: true, state: null };
    case 'get':
      return { ok: op.value === state, state };
  }
}

function buildEventList(ops: readonly KvOperation[]): EventNode {
  const events: { timeMs: number; isCall: boolean; op: number }[] = [];
  ops.forEach((op, i) => {
    events.push({ timeMs: op.callMs, isCall: true, op: i });
    events.push({ timeMs: op.returnMs, isCall: false, op: i });
  });
  // At equal times calls come first: operations that touch in time count as concurrent,
  // which can only make the checker more permissive, never report a false violation.
  events.sort((a, b) => a.timeMs - b.timeMs || (a.isCall === b.isCall ? a.op - b.op : a.isCall ? -1 : 1) || 0);
  const head: EventNode = { op: -1, isCall: false, match: null, prev: null, next: null };
  const calls = new Map<number, EventNode>();
  let tail = head;
  for (const e of events) {
    const node: EventNode = { op: e.op, isCall: e.isCall, match: null, prev: tail, next: null };
    tail.next = node;
    tail = node;
    if (e.isCall) calls.set(e.op, node);
    else (calls.get(e.op) as EventNode).match = node;
  }
  return head;
}

function lift(call: EventNode): void {
  const ret = call.match as EventNode;
  (call.prev as EventNode).next = call.next;
  if (call.next !== null) call.next.prev = call.prev;
  (ret.prev as EventNode).next = ret.next;
  if (ret.next !== null) ret.next.prev = ret.prev;
}

function unlift(call: EventNode): void {
  const ret = call.match as EventNode;
  (ret.prev as EventNode).next = ret;
  if (ret.next !== null) ret.next.prev = ret;
  (call.prev as EventNode).next = call;
  if (call.next !== null) call.next.prev = call;
}

function checkRegister(key: string, ops: readonly KvOperation[], stepsMax: number): LinearizabilityResult | null {
  const head = buildEventList(ops);
  const linearized = new Uint32Array(Math.ceil(ops.length / 32) + 1);
  const seen = new Set<string>();
  const stack: { call: EventNode; state: RegisterValue }[] = [];
  let state: RegisterValue = null;
  let entry = head.next;
  let longest = 0;
  let blockedAtLongest = -1;
  for (let steps = 0; head.next !== null; steps++) {
    if (steps >= stepsMax) return { ok: 'unknown', key, reason: `search gave up after ${stepsMax} steps` };
    if (entry === null) break;
    if (entry.isCall) {
      const op = ops[entry.op] as KvOperation;
      const next = stepRegister(state, op);
      if (next.ok) {
        linearized[entry.op >> 5] = (linearized[entry.op >> 5] as number) | (1 << (entry.op & 31));
        const memoKey = `${linearized.join(',')}|${next.state === null ? '\u0000' : next.state}`;
        if (!seen.has(memoKey)) {
          seen.add(memoKey);
          stack.push({ call: entry, state });
          if (stack.length > longest) [longest, blockedAtLongest] = [stack.length, -1];
          state = next.state;
          lift(entry);
          entry = head.next;
          continue;
        }
        linearized[entry.op >> 5] = (linearized[entry.op >> 5] as number) & ~(1 << (entry.op & 31));
      }
      entry = entry.next;
    } else {
      // An operation returned before we could place it: undo the last choice.
      if (stack.length === longest && blockedAtLongest < 0) blockedAtLongest = entry.op;
      const top = stack.pop();
      if (top === undefined) return { ok: false, key, reason: explain(ops, blockedAtLongest < 0 ? entry.op : blockedAtLongest, longest) };
      state = top.state;
      linearized[top.call.op >> 5] = (linearized[top.call.op >> 5] as number) & ~(1 << (top.call.op & 31));
      unlift(top.call);
      entry = top.call.next;
    }
  }
  return null;
}

function explain(ops: readonly KvOperation[], blocked: number, longest: number): string {
  const op = ops[blocked] as KvOperation;
  return `no linearization: at most ${longest} of ${ops.length} operations could be ordered; the deepest attempt could not place ${op.clientId} ${op.kind}(${op.value ?? 'null'}) [${op.callMs}, ${op.returnMs}]`;
}
