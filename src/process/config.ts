/** One agent's configuration, as `chime agent` parsed it from flags and --config. */
export interface AgentConfig {
  readonly id: string;
  readonly dataDir: string;
  readonly rpc: string;
  readonly http: string;
  /** Founding voters with their rpc addresses; used only when the data directory is empty. */
  readonly peers: ReadonlyMap<string, string> | null;
  readonly join: string | null;
  /** With join: a voter (learner promoted once caught up) or a worker (never votes). */
  readonly role: 'voter' | 'worker';
  /** As leader, remove worker members silent this long; null: never. */
  readonly removeSilentWorkersAfterMs: number | null;
  readonly tags: Readonly<Record<string, string>>;
  readonly slots: number;
  readonly clusterKeyFile: string | null;
  /** The key that signs notification webhooks; without it events are recorded, never sent. */
  readonly notifyKeyFile: string | null;
  readonly heartbeatMs: number;
  readonly electionMs: number;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  readonly snapshotEntries: number;
  /** A backup file to found the new cluster from (with peers, on an empty data directory). */
  readonly restore: string | null;
}
