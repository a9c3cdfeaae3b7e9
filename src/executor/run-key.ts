/** One string per (runId, attempt): the attempt is an integer, so the first ':' ends it and any runId stays unambiguous. */
export function runKey(runId: string, attempt: number): string {
  return `${attempt}:${runId}`;
}
