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
  /** --admin-token-file: read by the command, its content is the bootstrap admin token. */
  readonly adminTokenFile: string | null;
  /** --tls-cert/--tls-key: the API and console over HTTPS only (PEM files, re-read on SIGHUP). */
  readonly tlsCert: string | null;
  readonly tlsKey: string | null;
  /** --peer-cert/--peer-key/--peer-ca: mutual TLS between peers (PEM files, re-read on SIGHUP). */
  readonly peerCert: string | null;
  readonly peerKey: string | null;
  readonly peerCa: string | null;
  /** --secrets-key-file: read by the command; secret values are sealed with the key derived from it. */
  readonly secretsKeyFile: string | null;
  /** --token-file: the admin token --join sends (else CHIME_TOKEN). */
  readonly tokenFile: string | null;
  /** --metrics-open: GET /metrics answers without a token. */
  readonly metricsOpen: boolean;
}
