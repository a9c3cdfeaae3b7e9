// Secret headers of notify targets (api.md, "Secrets"): reads show "***" for each value, and
// a write that sends "***" back keeps the value stored for the same header of the same
// target (same position, same URL). Anything else is the user's new value.
import { redactSecrets } from '../access/index.js';
import { SECRET_PLACEHOLDER, type Job, type JobSpec, type NotifyTarget } from '../statemachine/index.js';

function redactTarget(target: NotifyTarget): NotifyTarget {
  if (Object.keys(target.secretHeaders).length === 0) return target;
  return { ...target, secretHeaders: redactSecrets(target.secretHeaders) };
}

/** The spec's notify list with every secret value replaced by "***". */
export function redactedNotify(spec: JobSpec): readonly NotifyTarget[] {
  return spec.notify.map(redactTarget);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A copy of a user's spec input with each "***" secret header value swapped for the stored
 * one. A placeholder with nothing stored behind it is left as it is, so validation names it.
 */
export function withStoredSecrets(input: unknown, stored: Job | null): unknown {
  if (stored === null || !isPlainObject(input) || !Array.isArray(input['notify'])) return input;
  const notify = input['notify'].map((target: unknown, i) => {
    const before = stored.notify[i];
    if (before === undefined || !isPlainObject(target) || target['url'] !== before.url || !isPlainObject(target['secretHeaders'])) return target;
    const secrets = Object.fromEntries(Object.entries(target['secretHeaders']).map(([name, value]) => {
      const kept = before.secretHeaders[name];
      return [name, value === SECRET_PLACEHOLDER && kept !== undefined ? kept : value];
    }));
    return { ...target, secretHeaders: secrets };
  });
  return { ...input, notify };
}
