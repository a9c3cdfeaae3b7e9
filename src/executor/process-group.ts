import { readFileSync } from 'node:fs';

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

/**
 * The kernel's start time of a process (clock ticks since boot, field 22 of /proc/PID/stat),
 * or null without /proc or when the process is gone. Together with the pid it names one
 * process across pid reuse.
 */
export function processStartTime(pid: number): string | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may contain spaces and parentheses; count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19] ?? null;
}
