// What the executor sees of one running process or request.

/** How a run ended, before the executor maps it to a status (a kill overrides `ok`). */
export interface RunOutcome {
  readonly ok: boolean;
  readonly exitCode: number | null;
  readonly output: string;
  readonly outputTruncated: boolean;
  readonly error: string | null;
}

export interface RunHooks {
  /** The process was spawned / the request was sent. Called at most once. */
  started(): void;
  /** Called synchronously by spawn, before any event: the pid of the run's process group. */
  processSpawned(processId: number): void;
  /** Called exactly once, also when the run never started. */
  finished(outcome: RunOutcome): void;
}

export interface RunHandle {
  /** Begins stopping the run; `finished` follows. Safe to call more than once. */
  terminate(): void;
}

export function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause: unknown = error.cause;
  if (cause instanceof Error && cause.message !== error.message) return `${error.message}: ${cause.message}`;
  return error.message;
}
