// Pieces every page uses: how an error reads, the "not available on this server" notice,
// status badges and links to jobs and runs.
import { ApiError, enc } from './api.js';
import { badge, h, link, notice, type Child } from './dom.js';
import { statusTone } from './format.js';
import type { Job } from './types.js';

export function errorText(error: unknown): string {
  if (error instanceof ApiError) {
    const fields = error.errors.map((e) => `${e.path}: ${e.message}`).join('; ');
    return `${error.detail}${fields !== '' && !error.detail.includes(fields) ? ` (${fields})` : ''}${error.status === 503 ? ' — retrying' : ''}`;
  }
  return error instanceof Error ? error.message : String(error);
}

/** Plainly says that this node's version does not serve an endpoint of the contract; no stand-in data is shown. */
export function unavailable(what: string, endpoint: string): HTMLElement {
  return notice([`${what} is not available on this server (`, h('code', null, endpoint), ' is not served by this node).'], 'unavailable');
}

/**
 * A slot that shows either content or an error in place, so one failing part of a page does
 * not blank the rest. `show(error)` keeps the last content visible under the error.
 */
export function slot(): { el: HTMLElement; content(...children: Child[]): void; error(error: unknown, what?: string, endpoint?: string): void; clearError(): void } {
  const errorEl = h('div', { class: 'slot-error' });
  const body = h('div');
  const el = h('div', { class: 'slot' }, errorEl, body);
  return {
    el,
    content(...children) {
      errorEl.replaceChildren();
      body.replaceChildren();
      for (const c of children) if (c !== null && c !== undefined && c !== false) body.append(c instanceof Node ? c : String(c));
    },
    error(error, what, endpoint) {
      if (error instanceof ApiError && error.unavailable && what !== undefined && endpoint !== undefined) {
        body.replaceChildren();
        errorEl.replaceChildren(unavailable(what, endpoint));
      } else errorEl.replaceChildren(notice(errorText(error), 'error'));
    },
    clearError() {
      errorEl.replaceChildren();
    },
  };
}

export function statusBadge(status: string): HTMLElement {
  return badge(status.replace('_', ' '), statusTone(status));
}

export function jobLink(id: string): HTMLAnchorElement {
  return link(`#/jobs/${enc(id)}`, id);
}

export function runLink(runId: string, text: string = shortRunId(runId)): HTMLAnchorElement {
  return link(`#/runs/${enc(runId)}`, text, { title: runId });
}

/** Run ids are long; the tail tells them apart. */
export function shortRunId(runId: string): string {
  return runId.length > 18 ? `…${runId.slice(-14)}` : runId;
}

export function executorSummary(executor: Job['executor']): string {
  if (executor.type === 'shell') return `shell: ${executor.command ?? ''}`;
  if (executor.type === 'http') return `${executor.method ?? 'GET'} ${executor.url ?? ''}`;
  if (executor.type === 'queue') return `queue: ${executor.function ?? ''}`;
  return executor.type;
}
