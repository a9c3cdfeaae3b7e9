/** One string per (runId, attempt); JSON keeps any runId unambiguous. */
export function runKey(runId: string, attempt: number): string {
  return JSON.stringify([runId, attempt]);
}
