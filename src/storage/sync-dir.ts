import { closeSync, fsyncSync, openSync } from 'node:fs';

/** Makes a directory's entries (a new, renamed or deleted file) durable. */
export function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
