// Who is signed in: the token (this tab only) and what its role lets the console show. The API
// has no "who am I" call, so the role is found by asking, with requests that change nothing:
// an admin-only read (the audit list), and a write the server refuses before any effect (a job
// id that breaks the id rule), which a role without the write right gets as 403 instead of 400.
import { ApiError, request } from './api.js';

export type Role = 'admin' | 'operator' | 'viewer';
export type Right = 'write' | 'admin';

const ROLE_KEY = 'chime.role';
let role: Role = 'viewer';

export function currentRole(): Role {
  return role;
}

export function restoreRole(): void {
  const saved = sessionStorage.getItem(ROLE_KEY);
  role = saved === 'admin' || saved === 'operator' ? saved : 'viewer';
}

export function can(right: Right): boolean {
  return right === 'admin' ? role === 'admin' : role === 'admin' || role === 'operator';
}

async function answers(probe: () => Promise<unknown>): Promise<'yes' | 'forbidden' | 'missing'> {
  try {
    await probe();
    return 'yes';
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    if (error.status === 403) return 'forbidden';
    if (error.unavailable) return 'missing';
    // A refusal of the request itself (400) came after the rights check: the right is there.
    if (error.status === 400) return 'yes';
    throw error;
  }
}

/** Finds the session's role; a server without access control makes everyone an admin (on loopback). */
export async function probeRole(): Promise<Role> {
  const audit = await answers(() => request('GET', '/v1/audit?limit=1'));
  const write = await answers(() => request('PUT', '/v1/jobs/!'));
  role = write === 'forbidden' ? 'viewer' : audit === 'forbidden' ? 'operator' : 'admin';
  sessionStorage.setItem(ROLE_KEY, role);
  return role;
}

export function forgetRole(): void {
  sessionStorage.removeItem(ROLE_KEY);
  role = 'viewer';
}
