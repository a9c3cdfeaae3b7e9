import { readdirSync, readFileSync } from 'node:fs';

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

/**
 * Whether a group whose signal test said 'sent' still has a process that is not a zombie.
 * A zombie is dead already; it only waits for its new parent (init) to reap it, and some
 * container inits reap only every second or so. Without /proc the answer is true (assume
 * alive; the kill grace still bounds the wait).
 */
export function groupHasLiveMember(groupId: number): boolean {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return true;
  }
  for (const entry of entries) {
    if (entry.charCodeAt(0) < 48 || entry.charCodeAt(0) > 57) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // Fields after the command name: state, ppid, pgrp, ...
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ', 3);
    if (Number(pgrp) === groupId && state !== 'Z') return true;
  }
  return false;
}
