// A job spec as a putJob entry carries it: validated and packed once, where the request
// arrived (the leader, or the node whose API took it), in the very strings the table stores
// (packed-spec.ts). Apply then checks the shape every reader of those strings relies on —
// the checks a snapshot's job rows pass on restore, plus the schedule's parse — instead of
// validating and packing the spec a second time on every replica. The user-facing rules
// (lengths, patterns, ranges beyond the traits) were applied by the proposer's
// validateJobSpec; like a snapshot's rows, the entry came from an authenticated peer.
import { intern, utf8Bytes } from './defaults.js';
import { SCHEDULE_CHARS_MAX, SPEC_JSON_BYTES_MAX, TIMEZONE_CHARS_MAX } from './limits.js';
import { internShared, packSpec, packedProblem, sharedExecutorType, sharedTraits } from './packed-spec.js';
import { parseSchedule } from './schedule.js';
import { traitsOf, withEnabled } from './traits.js';
import { isKnownZone } from './tz.js';
import type { JobSpec } from './types.js';
import { validateJobSpec } from './validate.js';

/** The wire form: [schedule, timezone, enabled, packed (the job's own part), shared (the settings part)]. */
export type StoredSpec = readonly [schedule: string, timezone: string, enabled: boolean, packed: string, shared: string];

/** What the table keeps of a spec, checked: the strings (interned where shared) and the traits. */
export type CheckedSpec = {
  readonly schedule: string;
  readonly timezone: string;
  readonly packed: string;
  readonly shared: string;
  readonly traits: number;
};

/** The entry form of a validated spec (packSpec's strings). */
export function storedSpecOf(spec: JobSpec): StoredSpec {
  const { packed, shared } = packSpec(spec);
  return [spec.schedule, spec.timezone, spec.enabled, packed, shared];
}

/** The stored form of a spec that validateJobSpec returned. */
export function checkedOfSpec(spec: JobSpec): CheckedSpec {
  const { packed, shared } = packSpec(spec);
  return { schedule: intern(spec.schedule), timezone: intern(spec.timezone), packed, shared, traits: traitsOf(spec) };
}

/** A spec as a legacy entry carries it (the user's JSON): validated and packed here. */
export function checkRawSpec(id: string, raw: unknown): { ok: true; checked: CheckedSpec } | { ok: false; errors: { path: string; message: string }[] } {
  const result = validateJobSpec(id, raw);
  return result.ok ? { ok: true, checked: checkedOfSpec(result.spec) } : { ok: false, errors: result.errors };
}

/**
 * Distinct shared parts already checked, with their traits: jobs made from one template
 * share one part, so most entries find theirs here. Bounded like the intern pool.
 */
const CHECKED_SHARED_MAX = 65_536;
/**
 * The packed strings of a spec whose JSON passed SPEC_JSON_BYTES_MAX are no longer than it,
 * but for the placeholders of defaults: a bound here keeps every stored job within what a
 * snapshot's reader accepts (its strings are limited too).
 */
export const STORED_SPEC_BYTES_MAX = SPEC_JSON_BYTES_MAX + 1024;
const checkedShared = new Map<string, number>();

function sharedTraitsOf(text: string): number | string {
  const known = checkedShared.get(text);
  if (known !== undefined) return known;
  const traits = sharedTraits(text);
  if (typeof traits === 'string') return traits;
  // The executor type is read from the text's first characters (sharedExecutorType): only
  // the packer's own spelling of the row is accepted.
  if (JSON.stringify(JSON.parse(text)) !== text) return 'shared spec part is not in its packed form';
  if (checkedShared.size < CHECKED_SHARED_MAX) checkedShared.set(text, traits);
  return traits;
}

/** Checks an entry's stored spec (any decoded value); the checked strings or what is wrong. */
export function checkStoredSpec(value: unknown): { ok: true; checked: CheckedSpec } | { ok: false; message: string } {
  if (!Array.isArray(value) || value.length !== 5) return { ok: false, message: 'a stored spec is [schedule, timezone, enabled, packed, shared]' };
  const [schedule, timezone, enabled, packed, shared]: unknown[] = value;
  if (typeof schedule !== 'string' || typeof timezone !== 'string' || typeof enabled !== 'boolean' || typeof packed !== 'string' || typeof shared !== 'string') {
    return { ok: false, message: 'a stored spec has a field of the wrong type' };
  }
  if (schedule.length > SCHEDULE_CHARS_MAX || !parseSchedule(schedule).ok) return { ok: false, message: 'the stored schedule does not parse' };
  if (timezone.length > TIMEZONE_CHARS_MAX || !isKnownZone(timezone)) return { ok: false, message: 'the stored time zone is unknown' };
  if (utf8Bytes(packed) + utf8Bytes(shared) > STORED_SPEC_BYTES_MAX) return { ok: false, message: `a stored spec is more than ${STORED_SPEC_BYTES_MAX} bytes` };
  const traits = sharedTraitsOf(shared);
  if (typeof traits === 'string') return { ok: false, message: traits };
  const problem = packedProblem(packed, sharedExecutorType(shared));
  if (problem !== null) return { ok: false, message: problem };
  return { ok: true, checked: { schedule: intern(schedule), timezone: intern(timezone), packed, shared: internShared(shared), traits: withEnabled(traits, enabled) } };
}
