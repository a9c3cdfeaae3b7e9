import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Registry } from './metrics.js';
import type { Agent } from './agent.js';

/** The agent's Prometheus metrics (GET /metrics). */
export class AgentMetrics {
  readonly registry = new Registry();
  readonly term = this.registry.gauge('chime_raft_term', 'Current Raft term');
  readonly commitIndex = this.registry.gauge('chime_raft_commit_index', 'Highest log index known committed');
  readonly appliedIndex = this.registry.gauge('chime_raft_applied_index', 'Highest log index applied to the state machine');
  readonly isLeader = this.registry.gauge('chime_raft_is_leader', '1 when this node is the leader');
  readonly leaderChanges = this.registry.counter('chime_raft_leader_changes_total', 'Times this node saw the leader change');
  readonly proposals = this.registry.counter('chime_raft_proposals_total', 'Proposals by outcome');
  readonly peerLastContact = this.registry.gauge('chime_peer_last_contact_seconds', 'Seconds since a message from each peer');
  readonly fsyncSeconds = this.registry.histogram('chime_storage_fsync_seconds', 'Time to persist one Ready (one synced batch)');
  readonly commitSeconds = this.registry.histogram('chime_raft_commit_seconds', 'Proposal to apply on the leader');
  readonly snapshotsTaken = this.registry.counter('chime_raft_snapshots_taken_total', 'Snapshots of the state machine written by this node');
  readonly snapshotHandOffs = this.registry.counter('chime_raft_snapshot_handoffs_total', 'Times this leader handed leadership on before a long snapshot');
  readonly snapshotsRestored = this.registry.counter('chime_raft_snapshots_restored_total', 'Snapshots received from a leader and restored');
  readonly httpRequests = this.registry.counter('chime_http_requests_total', 'HTTP requests by route and status');
  readonly httpSeconds = this.registry.histogram('chime_http_request_seconds', 'HTTP request handling time');
  /**
   * How late the event loop runs timers: Raft, disk completions and HTTP share one thread,
   * so a busy loop delays a Ready as much as a slow disk does. Quantiles since the last scrape.
   */
  readonly eventLoopDelay = this.registry.gauge('chime_event_loop_delay_seconds', 'Event loop delay quantiles since the last scrape');
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 10 });

  /** Extra exposition lines from parts that keep their own counters (scheduler, executor). */
  readonly sources: (() => string[])[] = [];

  bind(agent: Agent): void {
    this.loopDelay.enable();
    const status = () => agent.host.status();
    this.term.set(() => status().hardState.term);
    this.commitIndex.set(() => status().hardState.commit);
    this.appliedIndex.set(() => agent.host.appliedIndex());
    this.isLeader.set(() => (agent.isLeader() ? 1 : 0));
  }

  render(agent: Agent): string {
    for (const q of [0.5, 0.99, 1]) this.eventLoopDelay.set(q === 1 ? this.loopDelay.max / 1e9 : this.loopDelay.percentile(q * 100) / 1e9, { quantile: String(q) });
    this.loopDelay.reset();
    this.peerLastContact.clear();
    for (const member of agent.cluster().members) {
      if (member.id === agent.id || member.lastContactMs === null) continue;
      this.peerLastContact.set(member.lastContactMs / 1000, { peer: member.id });
    }
    return this.registry.render() + this.sources.flatMap((source) => source()).join('\n') + (this.sources.length > 0 ? '\n' : '');
  }
}
