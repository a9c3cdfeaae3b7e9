// The console's tiny view helpers: element construction, labelled fields, tables, notices and
// a confirm dialog. All data reaches the page as text nodes, never as HTML.

export type Child = Node | string | number | null | undefined | false | readonly Child[];
type Handler = (event: Event) => void;
export type Props = { readonly [name: string]: string | number | boolean | null | undefined | Handler };

/** Properties set as such (their attributes only set the initial state). */
const PROPERTIES = new Set(['value', 'checked', 'disabled', 'hidden', 'selected', 'readOnly', 'required', 'open']);

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props | null = null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props !== null) {
    for (const [name, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false && !PROPERTIES.has(name)) continue;
      if (typeof value === 'function') el.addEventListener(name.slice(2), value);
      else if (name === 'class') el.className = String(value);
      else if (PROPERTIES.has(name)) Reflect.set(el, name, value);
      else el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(parent: Node, children: readonly Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

let nextId = 0;
export function uid(prefix: string): string {
  return `${prefix}-${++nextId}`;
}

export type Control = HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;

export interface Field {
  readonly wrap: HTMLElement;
  readonly control: Control;
  setError(message: string | null): void;
}

/**
 * A visible label bound to its control, an optional hint, and an error slot; both are the
 * control's accessible description, so a screen reader reads the error with the field.
 */
export function field(label: string, control: Control, hint?: string): Field {
  control.id ||= uid('f');
  const hintEl = hint === undefined ? null : h('span', { class: 'hint', id: uid('hint') }, hint);
  const errorEl = h('span', { class: 'field-error', id: uid('err'), hidden: true });
  const describe = () => [hintEl?.id, errorEl.hidden ? undefined : errorEl.id].filter((x) => x !== undefined).join(' ');
  if (describe() !== '') control.setAttribute('aria-describedby', describe());
  const wrap = h('div', { class: 'field' }, h('label', { for: control.id }, label), control, hintEl, errorEl);
  return {
    wrap,
    control,
    setError(message) {
      errorEl.textContent = message ?? '';
      errorEl.hidden = message === null;
      if (message === null) control.removeAttribute('aria-invalid');
      else control.setAttribute('aria-invalid', 'true');
      const d = describe();
      if (d === '') control.removeAttribute('aria-describedby');
      else control.setAttribute('aria-describedby', d);
      wrap.classList.toggle('invalid', message !== null);
    },
  };
}

export function input(props: Props = {}): HTMLInputElement {
  return h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', ...props });
}

export function textarea(props: Props = {}): HTMLTextAreaElement {
  return h('textarea', { rows: 3, spellcheck: 'false', ...props });
}

export function select(options: ReadonlyArray<string | readonly [string, string]>, value: string, props: Props = {}): HTMLSelectElement {
  const el = h('select', props, options.map((o) => {
    const [v, text] = typeof o === 'string' ? [o, o] : o;
    return h('option', { value: v, selected: v === value }, text);
  }));
  el.value = value;
  return el;
}

export function button(text: string, onClick: (event: Event) => void, props: Props = {}): HTMLButtonElement {
  return h('button', { type: 'button', onclick: onClick, ...props }, text);
}

export interface Column<T> {
  readonly title: string;
  readonly cell: (row: T) => Child;
  readonly class?: string;
}

/** A table with a caption; rows are keyed, so a refresh replaces only rows whose content changed (focus stays where it was). */
export function dataTable<T>(caption: string, columns: readonly Column<T>[], props: Props = {}): { el: HTMLElement; update(rows: readonly T[], key: (row: T) => string, empty?: string): void } {
  const body = h('tbody');
  const table = h('table', null, h('caption', { class: 'visually-hidden' }, caption), h('thead', null, h('tr', null, columns.map((c) => h('th', { scope: 'col', class: c.class }, c.title)))), body);
  const el = h('div', { class: 'table-wrap', ...props }, table);
  const shown = new Map<string, { tr: HTMLTableRowElement; sig: string }>();
  return {
    el,
    update(rows, key, empty = 'Nothing to show.') {
      if (rows.length === 0) {
        shown.clear();
        replace(body, h('tr', null, h('td', { colspan: columns.length, class: 'empty' }, empty)));
        return;
      }
      const next: HTMLTableRowElement[] = [];
      const seen = new Set<string>();
      for (const row of rows) {
        const k = key(row);
        const sig = JSON.stringify(row);
        const old = shown.get(k);
        seen.add(k);
        if (old !== undefined && old.sig === sig) {
          next.push(old.tr);
          continue;
        }
        const tr = h('tr', { 'data-key': k }, columns.map((c, i) => (i === 0 ? h('th', { scope: 'row', class: c.class }, c.cell(row)) : h('td', { class: c.class }, c.cell(row)))));
        shown.set(k, { tr, sig });
        next.push(tr);
      }
      for (const k of [...shown.keys()]) if (!seen.has(k)) shown.delete(k);
      // Keep the nodes that did not change: replacing a focused button would drop the focus.
      const current = [...body.children];
      if (current.length !== next.length || current.some((tr, i) => tr !== next[i])) body.replaceChildren(...next);
    },
  };
}

export function badge(text: string, tone: string): HTMLElement {
  return h('span', { class: `badge tone-${tone}` }, text);
}

export function notice(text: Child, kind: 'info' | 'error' | 'unavailable' = 'info'): HTMLElement {
  return h('p', { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : null }, text);
}

export function link(href: string, text: Child, props: Props = {}): HTMLAnchorElement {
  return h('a', { href, ...props }, text);
}

/** Says something to screen readers through the page's polite live region. */
export function announce(text: string): void {
  const region = document.getElementById('announcer');
  if (region === null) return;
  region.textContent = '';
  // A change in a later task is announced even when the text repeats.
  setTimeout(() => (region.textContent = text), 30);
}

/**
 * Asks before something that cannot be undone, in a modal <dialog> (focus moves into it,
 * Escape cancels). Resolves true only for the confirm button.
 */
export function confirmAction(title: string, message: string, confirmLabel: string): Promise<boolean> {
  const back = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  return new Promise((resolve) => {
    const titleId = uid('dlg');
    const dialog = h('dialog', { 'aria-labelledby': titleId, class: 'confirm' });
    const done = (yes: boolean) => {
      dialog.close();
      dialog.remove();
      back?.focus();
      resolve(yes);
    };
    append(dialog, [
      h('h2', { id: titleId }, title),
      h('p', null, message),
      h('div', { class: 'actions' }, button('Cancel', () => done(false)), button(confirmLabel, () => done(true), { class: 'danger' })),
    ]);
    dialog.addEventListener('cancel', (e) => {
      e.preventDefault();
      done(false);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** A heading that receives focus when a page opens, so keyboard and screen reader users start there. */
export function pageHeading(text: string, ...extra: Child[]): HTMLElement {
  document.title = `${text} · chime`;
  return h('div', { class: 'page-head' }, h('h1', { tabindex: -1, id: 'page-title' }, text), extra);
}

export function section(title: string, ...children: Child[]): HTMLElement {
  const id = uid('sec');
  return h('section', { 'aria-labelledby': id, class: 'card' }, h('h2', { id }, title), children);
}

export function definitionList(rows: ReadonlyArray<readonly [string, Child]>): HTMLElement {
  return h('dl', { class: 'facts' }, rows.map(([k, v]) => h('div', null, h('dt', null, k), h('dd', null, v))));
}
