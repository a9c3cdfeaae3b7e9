// One stored job, kept small because a table holds up to a million of them: the validated
// spec lives as two compact strings (packed-spec.ts: the job's own strings, and the
// settings it shares with other jobs, interned), and only what apply and the indexes read
// often are plain fields: the schedule and zone (interned), and `traits` (traits.ts), one
// small integer with enabled, concurrency, history and retry.max. `spec` rebuilds the full
// JobSpec on demand (views, rare applies), through a small memo of recent decodes.
import { assert } from './assert.js';
import { EMPTY_LIST, flat, intern } from './defaults.js';
import { packSpec, unpackSpec } from './packed-spec.js';
import { traitConcurrency, traitEnabled, traitHasAfter, traitHistory, traitRetryMax, traitsOf, withEnabled } from './traits.js';
import type { CheckedSpec } from './stored-spec.js';
import type { Concurrency, JobSpec, RunRecord } from './types.js';

type JobRuns = { list: RunRecord[]; active: number };

/**
 * Specs decoded lately, by job: the scheduler reads the same due jobs on every pass and
 * apply reads a firing job's spec, so a small cache saves decoding them again and again.
 * An entry is used only while the job's packed strings, traits, schedule and zone are the
 * ones it was decoded from (a pure memo: it cannot change any result).
 */
type DecodedSpec = { readonly spec: JobSpec; readonly packed: string; readonly shared: string; readonly traits: number; readonly schedule: string; readonly timezone: string };
/**
 * Two generations, each of at most RECENT_SPECS_MAX / 2: a hit in the old one moves to the
 * young one, and a full young generation becomes the old one (the old one is dropped). An
 * evict-the-oldest Map would call keys().next() per miss, and a Map skips the holes its
 * deletes left at the front on every such call: quadratic once many jobs miss.
 */
const RECENT_SPECS_MAX = 16_384;
let youngSpecs = new Map<JobState, DecodedSpec>();
let oldSpecs = new Map<JobState, DecodedSpec>();

function recalledSpec(job: JobState): DecodedSpec | undefined {
  const young = youngSpecs.get(job);
  if (young !== undefined) return young;
  const old = oldSpecs.get(job);
  if (old !== undefined) rememberSpec(job, old);
  return old;
}

function rememberSpec(job: JobState, decoded: DecodedSpec): void {
  if (youngSpecs.size >= RECENT_SPECS_MAX / 2) {
    oldSpecs = youngSpecs;
    youngSpecs = new Map();
  }
  youngSpecs.set(job, decoded);
}

/** Replicated state of one job. Create with `JobState.of`; `nextFireAt` changes only through state.setNextFireAt. */
export class JobState {
  /** The job's run records and how many are active; null until the first run (most jobs). */
  private runState: JobRuns | null = null;

  constructor(
    readonly id: string,
    /** The job's own strings: command or url, description, body, env (see packSpec). */
    public packed: string,
    /** The settings many jobs share, one interned string for all of them (see packSpec). */
    public shared: string,
    public schedule: string,
    public timezone: string,
    public traits: number,
    readonly createdAt: number,
    updatedAt: number,
    readonly createRevision: number,
    public revision: number,
    public lastScheduledAt: number | null,
    public nextFireAt: number | null,
  ) {
    this.updatedAtUnlessCreated = updatedAt === createdAt ? null : updatedAt;
  }

  /** updatedAt, or null while it equals createdAt (most jobs): a time field costs a 16-byte box. */
  private updatedAtUnlessCreated: number | null;

  /** Who made the last change (an interned token name), or null when no audit record named one. */
  updatedBy: string | null = null;

  get updatedAt(): number {
    return this.updatedAtUnlessCreated ?? this.createdAt;
  }

  set updatedAt(atMs: number) {
    this.updatedAtUnlessCreated = atMs === this.createdAt ? null : atMs;
  }

  static of(spec: JobSpec, createdAt: number, createRevision: number): JobState {
    const { packed, shared } = packSpec(spec);
    return new JobState(flat(spec.id), packed, shared, intern(spec.schedule), intern(spec.timezone), traitsOf(spec), createdAt, createdAt, createRevision, createRevision, null, null);
  }

  /** A new job from a checked stored spec (stored-spec.ts). */
  static ofChecked(id: string, checked: CheckedSpec, createdAt: number, createRevision: number): JobState {
    return new JobState(flat(id), checked.packed, checked.shared, checked.schedule, checked.timezone, checked.traits, createdAt, createdAt, createRevision, createRevision, null, null);
  }

  /** The full spec, rebuilt from the compact form (a fresh frozen object each call). */
  get spec(): JobSpec {
    const cached = recalledSpec(this);
    if (cached !== undefined && cached.packed === this.packed && cached.shared === this.shared && cached.traits === this.traits
      && cached.schedule === this.schedule && cached.timezone === this.timezone) return cached.spec;
    const spec = unpackSpec(this.id, this.schedule, this.timezone, this.enabled, this.packed, this.shared);
    rememberSpec(this, { spec, packed: this.packed, shared: this.shared, traits: this.traits, schedule: this.schedule, timezone: this.timezone });
    return spec;
  }

  /** Replaces the spec with a checked stored one (stored-spec.ts). */
  setChecked(checked: CheckedSpec): void {
    this.packed = checked.packed;
    this.shared = checked.shared;
    this.schedule = checked.schedule;
    this.timezone = checked.timezone;
    this.traits = checked.traits;
  }

  /** The job's run records, oldest first (ascending seq); null until the first run. */
  get runs(): RunRecord[] | null {
    return this.runState?.list ?? null;
  }

  set runs(list: RunRecord[] | null) {
    if (list === null) {
      assert(this.activeCount === 0, 'a job with active runs keeps its run list');
      this.runState = null;
    } else if (this.runState === null) {
      this.runState = { list, active: 0 };
    } else {
      this.runState.list = list;
    }
  }

  /** The job's pending and running runs. */
  get activeCount(): number {
    return this.runState?.active ?? 0;
  }

  set activeCount(count: number) {
    assert(this.runState !== null || count === 0, 'active runs are in the run list');
    if (this.runState !== null) this.runState.active = count;
  }

  get enabled(): boolean {
    return traitEnabled(this.traits);
  }

  set enabled(on: boolean) {
    this.traits = withEnabled(this.traits, on);
  }

  get concurrency(): Concurrency {
    return traitConcurrency(this.traits);
  }

  get history(): number {
    return traitHistory(this.traits);
  }

  get retryMax(): number {
    return traitRetryMax(this.traits);
  }

  /** The `after` list (empty for almost every job, without decoding the spec). */
  get after(): readonly string[] {
    return traitHasAfter(this.traits) ? this.spec.after : EMPTY_LIST;
  }
}

