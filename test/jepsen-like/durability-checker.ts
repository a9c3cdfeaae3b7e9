// G4: every write the API acknowledged is present after the final kill -9 of every node and
// the restart of them all. The writes are job creations that are never deleted, so
// "present" is simply "the id is in the job list".

export interface DurabilityInput {
  /** Job ids whose creation the API acknowledged (201/200). */
  readonly acked: readonly string[];
  /** Job ids listed after the final restart. */
  readonly present: ReadonlySet<string>;
}

export interface DurabilityResult {
  readonly ok: boolean;
  readonly acked: number;
  readonly lost: string[];
}

export function checkDurability(input: DurabilityInput): DurabilityResult {
  const lost = input.acked.filter((id) => !input.present.has(id));
  return { ok: lost.length === 0, acked: input.acked.length, lost };
}
