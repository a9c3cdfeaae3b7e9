/**
 * Signals a whole process group (a shell run is spawned detached, so its pid is its group
 * id). 'gone' means no process of the group is left to signal.
 */
export function signalGroup(groupId: number, signal: NodeJS.Signals | 0): 'sent' | 'gone' | 'failed' {
  try {
    process.kill(-groupId, signal);
    return 'sent';
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ESRCH') return 'gone';
    return 'failed';
  }
}
