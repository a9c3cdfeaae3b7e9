// Placement: which executor nodes a run goes to. Pure apart from the injected random source.
// A node's load is what it holds by the table (active executions of current attempts) or by
// its heartbeat, whichever is larger, plus what this pass has already given it.
import { EXECUTORS_MAX, type Target } from '../statemachine/index.js';
import type { ExecutorNode } from './types.js';

export type Placement =
  | { readonly kind: 'nodes'; readonly nodes: readonly string[] }
  /** Eligible nodes exist but lack a free slot (or have not reported since this leader started): try again later. */
  | { readonly kind: 'wait'; readonly why: string }
  /** No node could ever take it as things stand: record the fire skipped with this reason. */
  | { readonly kind: 'none'; readonly reason: string };

export type LoadViewInput = {
  readonly nodes: readonly ExecutorNode[];
  readonly activeCountOf: (node: string) => number;
  readonly selfId: string;
  /** The leader started less than a lease ago: a silent node may simply not have reported yet. */
  readonly young: boolean;
  readonly random: () => number;
};

/** Per-pass view of node loads; assignments made in the pass count against the slots. */
export class LoadView {
  private readonly load = new Map<string, number>();
  private readonly byId = new Map<string, ExecutorNode>();

  constructor(readonly input: LoadViewInput) {
    for (const node of input.nodes) {
      this.byId.set(node.id, node);
      this.load.set(node.id, Math.max(node.runningCount, input.activeCountOf(node.id)));
    }
  }

  get nodes(): readonly ExecutorNode[] {
    return this.input.nodes;
  }

  node(id: string): ExecutorNode | undefined {
    return this.byId.get(id);
  }

  loadOf(id: string): number {
    return this.load.get(id) ?? 0;
  }

  freeSlots(id: string): number {
    const node = this.byId.get(id);
    return node === undefined ? 0 : node.slots - this.loadOf(id);
  }

  assign(ids: readonly string[]): void {
    for (const id of ids) this.load.set(id, this.loadOf(id) + 1);
  }
}

function tagsMatch(node: ExecutorNode, tags: Readonly<Record<string, string>>): boolean {
  return Object.entries(tags).every(([k, v]) => node.tags[k] === v);
}

/** Least loaded first (by share of slots, then count), random among equals. */
function rank(view: LoadView, nodes: readonly ExecutorNode[]): ExecutorNode[] {
  const keyed = nodes.map((node) => ({ node, share: view.loadOf(node.id) / Math.max(1, node.slots), load: view.loadOf(node.id), tie: view.input.random() }));
  keyed.sort((a, b) => a.share - b.share || a.load - b.load || a.tie - b.tie || (a.node.id < b.node.id ? -1 : 1));
  return keyed.map((k) => k.node);
}

/** Chooses nodes for one run and, when it succeeds, counts them in the view. */
export function place(target: Target, view: LoadView): Placement {
  const placement = choose(target, view);
  if (placement.kind === 'nodes') view.assign(placement.nodes);
  return placement;
}

function choose(target: Target, view: LoadView): Placement {
  const all = view.nodes;
  switch (target.mode) {
    case 'leader': {
      const self = view.node(view.input.selfId);
      if (self === undefined) return { kind: 'none', reason: 'no eligible executor: this leader runs no executor' };
      return view.freeSlots(self.id) > 0 ? { kind: 'nodes', nodes: [self.id] } : { kind: 'wait', why: 'the leader has no free slot' };
    }
    case 'any':
      return pickSome(view, all, 1, 'no eligible executor: the cluster has no executor node');
    case 'all':
      return pickEvery(view, all, 'no eligible executor: the cluster has no executor node');
    case 'tags': {
      const matching = all.filter((n) => tagsMatch(n, target.tags));
      // A node's tags come with its heartbeat: a young leader that has not heard from a node
      // yet cannot know whether it matches, so it waits rather than skipping the fire.
      const unheard = view.input.young && all.some((n) => n.lastHeartbeatMs === null);
      const enough = target.count !== undefined && matching.filter((n) => n.alive).length >= target.count;
      if (unheard && !enough) return { kind: 'wait', why: 'nodes whose tags are not known yet have not reported' };
      const reason = `no eligible executor: no node has tags ${JSON.stringify(target.tags)}`;
      return target.count === undefined ? pickEvery(view, matching, reason) : pickSome(view, matching, target.count, reason);
    }
  }
}

/** `count` of the eligible nodes with a free slot, least loaded first (fewer when fewer are alive). */
function pickSome(view: LoadView, eligible: readonly ExecutorNode[], count: number, noneReason: string): Placement {
  if (eligible.length === 0) return { kind: 'none', reason: noneReason };
  const alive = eligible.filter((n) => n.alive);
  if (alive.length === 0) return { kind: 'wait', why: 'no eligible executor is alive' };
  const want = Math.min(count, alive.length);
  const free = rank(view, alive.filter((n) => view.freeSlots(n.id) > 0));
  if (free.length < want) return { kind: 'wait', why: 'eligible executors have no free slot' };
  return { kind: 'nodes', nodes: free.slice(0, want).map((n) => n.id) };
}

/** Every alive eligible node, each with a free slot. A young leader waits for silent ones to report. */
function pickEvery(view: LoadView, eligible: readonly ExecutorNode[], noneReason: string): Placement {
  if (eligible.length === 0) return { kind: 'none', reason: noneReason };
  const alive = eligible.filter((n) => n.alive);
  if (alive.length === 0 || (view.input.young && alive.length < eligible.length)) return { kind: 'wait', why: 'eligible executors have not reported yet' };
  if (alive.some((n) => view.freeSlots(n.id) <= 0)) return { kind: 'wait', why: 'an eligible executor has no free slot' };
  const nodes = alive.map((n) => n.id).sort();
  return { kind: 'nodes', nodes: nodes.slice(0, EXECUTORS_MAX) };
}
