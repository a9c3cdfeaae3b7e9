// Secret values of job specs (api.md, "Secrets"): `executor.secretEnv` (shell) and
// `executor.secretHeaders` (http). Reads show "***" for each value; a write that sends "***"
// back keeps the stored value; captured output has each value replaced by "***". These are
// pure functions of the spec: the API applies them at the edge, the executor before output
// leaves the process.
import { refused, type FieldError, type Refused } from './codes.js';
import { SEALED_PREFIX } from './secret-box.js';

export const SECRET_MASK = '***';
/** Shorter values would mask common words in output and are too guessable to be secrets. */
export const SECRET_VALUE_CHARS_MIN = 6;
export const SECRET_FIELDS = ['secretEnv', 'secretHeaders'] as const;
export type SecretField = (typeof SECRET_FIELDS)[number];

export type SecretMap = Readonly<Record<string, string>>;
/** The part of an executor this module reads; statemachine's executors fit once they carry the secret maps. */
export type ExecutorSecrets = { readonly type: string; readonly secretEnv?: SecretMap; readonly secretHeaders?: SecretMap };

/** The same keys, every value "***". */
export function redactSecrets(map: SecretMap): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(map)) out[key] = SECRET_MASK;
  return out;
}

/** A copy of the executor whose secret maps show "***" for each value; other fields are shared. */
export function redactExecutor<E extends ExecutorSecrets>(executor: E): E {
  let out: E = executor;
  for (const field of SECRET_FIELDS) {
    const map = executor[field];
    if (map !== undefined) out = { ...out, [field]: redactSecrets(map) };
  }
  return out;
}

/** A copy of a job (spec or stored job) with its executor redacted: what every read and every write's answer shows. */
export function redactSpec<S extends { readonly executor: ExecutorSecrets }>(spec: S): S {
  return { ...spec, executor: redactExecutor(spec.executor) };
}

/**
 * The secret map to store for a write. A value "***" keeps the stored value of that key (a
 * GET → edit → PUT round trip keeps secrets it never saw); "***" where nothing is stored, a
 * value shorter than SECRET_VALUE_CHARS_MIN, or one that looks sealed is a field error at
 * `path.KEY`. Keys the write leaves out are dropped, as a PUT replaces the spec.
 */
export function mergeSecrets(incoming: SecretMap, stored: SecretMap | undefined, path: string): { readonly ok: true; readonly secrets: Record<string, string> } | Refused<'INVALID_SECRET'> {
  const out: Record<string, string> = {};
  const errors: FieldError[] = [];
  for (const [key, value] of Object.entries(incoming)) {
    const at = `${path}.${key}`;
    if (typeof value !== 'string') {
      errors.push({ path: at, message: 'must be a string' });
    } else if (value === SECRET_MASK) {
      const kept = stored !== undefined && Object.hasOwn(stored, key) ? stored[key] : undefined;
      if (kept === undefined) errors.push({ path: at, message: '"***" keeps a stored value, but this key has none: send the value' });
      else out[key] = kept;
    } else if (value.length < SECRET_VALUE_CHARS_MIN) {
      errors.push({ path: at, message: `a secret value must be at least ${SECRET_VALUE_CHARS_MIN} characters` });
    } else if (value.startsWith(SEALED_PREFIX)) {
      // A sealed value copied from elsewhere (a backup) would be opened by the executing node
      // and handed to this job's command: only the node itself seals.
      errors.push({ path: at, message: `a secret value cannot start with ${SEALED_PREFIX}` });
    } else {
      out[key] = value;
    }
  }
  return errors.length > 0 ? refused('INVALID_SECRET', errors.map((e) => `${e.path}: ${e.message}`).join('; '), errors) : { ok: true, secrets: out };
}

/**
 * mergeSecrets for both maps of an executor. The stored executor's maps are matched by
 * field name only, so a value kept for `secretEnv.X` never moves to `secretHeaders.X`.
 */
export function mergeExecutorSecrets<E extends ExecutorSecrets>(incoming: E, stored: ExecutorSecrets | null): { readonly ok: true; readonly executor: E } | Refused<'INVALID_SECRET'> {
  let out: E = incoming;
  const errors: FieldError[] = [];
  for (const field of SECRET_FIELDS) {
    const map = incoming[field];
    if (map === undefined) continue;
    const merged = mergeSecrets(map, stored?.[field], `executor.${field}`);
    if (merged.ok) out = { ...out, [field]: merged.secrets };
    else errors.push(...(merged.errors ?? []));
  }
  return errors.length > 0 ? refused('INVALID_SECRET', errors.map((e) => `${e.path}: ${e.message}`).join('; '), errors) : { ok: true, executor: out };
}

/** Every secret value of an executor (opened, on the executing node), for maskOutput. */
export function secretValuesOf(executor: ExecutorSecrets): string[] {
  const out: string[] = [];
  for (const field of SECRET_FIELDS) out.push(...Object.values(executor[field] ?? {}));
  return out;
}

const REGEX_SPECIALS = /[.*+?^${}()|[\]\\]/g;

/**
 * `text` with every occurrence of each secret value replaced by "***", in one pass with the
 * longest values tried first, so a secret that contains another is masked whole and a
 * replacement never creates a new match. A value split across two chunks of output is the
 * caller's concern (it must mask over a window that overlaps chunk ends).
 */
export function maskOutput(text: string, secretValues: readonly string[]): string {
  const values = [...new Set(secretValues)].filter((v) => v.length >= SECRET_VALUE_CHARS_MIN).sort((a, b) => b.length - a.length);
  if (values.length === 0 || text.length === 0) return text;
  const pattern = new RegExp(values.map((v) => v.replace(REGEX_SPECIALS, '\\$&')).join('|'), 'g');
  return text.replace(pattern, SECRET_MASK);
}
