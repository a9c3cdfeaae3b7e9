// A small Prometheus registry and the one place chime's metrics text is rendered (the text
// exposition format 0.0.4). Families are counters, gauges, histograms and summaries; each
// sample's value is either kept here or read from its owner at scrape time. Series per
// family are bounded so a caller with unbounded label values cannot grow memory.
export const SERIES_PER_FAMILY_MAX = 1_000;

export type Labels = Readonly<Record<string, string>>;

const NEEDS_ESCAPE = /[\\\n"]/;

function escapeLabel(value: string): string {
  // Almost no value has anything to escape: one test instead of three replaces per label.
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/** A label set as the text format writes it; also the key of its series, so built on every inc and observe. */
function labelText(labels: Labels, extra: string | null = null): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return extra === null ? '' : `{${extra}}`;
  // Insertion sort: label sets have a few names, and Array#sort allocates on every call.
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i] ?? '';
    let j = i - 1;
    for (; j >= 0 && (keys[j] ?? '') > key; j--) keys[j + 1] = keys[j] ?? '';
    keys[j + 1] = key;
  }
  let text = '{';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] ?? '';
    text += `${i === 0 ? '' : ','}${k}="${escapeLabel(String(labels[k]))}"`;
  }
  return `${text}${extra === null ? '' : `,${extra}`}}`;
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

type Kind = 'counter' | 'gauge' | 'histogram' | 'summary';

abstract class Family {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly kind: Kind,
  ) {}

  render(): string[] {
    return [`# HELP ${this.name} ${this.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${this.name} ${this.kind}`, ...this.samples()];
  }

  protected abstract samples(): string[];
}

/** Label sets of a family, at most SERIES_PER_FAMILY_MAX; a new set beyond that is dropped. */
class Series<V> {
  private readonly byKey = new Map<string, { labels: Labels; value: V }>();

  get(labels: Labels, create: () => V): V | null {
    const key = labelText(labels);
    const found = this.byKey.get(key);
    if (found !== undefined) return found.value;
    if (this.byKey.size >= SERIES_PER_FAMILY_MAX) return null;
    const value = create();
    this.byKey.set(key, { labels, value });
    return value;
  }

  set(labels: Labels, value: V): void {
    const key = labelText(labels);
    if (!this.byKey.has(key) && this.byKey.size >= SERIES_PER_FAMILY_MAX) return;
    this.byKey.set(key, { labels, value });
  }

  clear(): void {
    this.byKey.clear();
  }

  entries(): IterableIterator<{ labels: Labels; value: V }> {
    return this.byKey.values();
  }

  get size(): number {
    return this.byKey.size;
  }
}

type Source = number | (() => number);

export class Counter extends Family {
  private readonly series = new Series<{ n: number }>();
  private readonly sources = new Series<() => number>();

  constructor(name: string, help: string) {
    super(name, help, 'counter');
  }

  inc(labels: Labels = {}, by = 1): void {
    const cell = this.series.get(labels, () => ({ n: 0 }));
    if (cell !== null) cell.n += by;
  }

  /**
   * An increment of one label set, its series looked up once: for a caller on a hot path
   * that would otherwise build the set's text on every inc. A no-op when the family is full.
   */
  incrementer(labels: Labels): (by?: number) => void {
    const cell = this.series.get(labels, () => ({ n: 0 }));
    return cell === null ? () => undefined : (by = 1) => {
      cell.n += by;
    };
  }

  /** The counter's value is kept by its owner (a component's plain counter) and read at scrape time. */
  from(read: () => number, labels: Labels = {}): this {
    this.sources.set(labels, read);
    return this;
  }

  get(labels: Labels = {}): number {
    return this.series.get(labels, () => ({ n: 0 }))?.n ?? 0;
  }

  protected samples(): string[] {
    const lines: string[] = [];
    for (const { labels, value } of this.series.entries()) lines.push(`${this.name}${labelText(labels)} ${formatValue(value.n)}`);
    for (const { labels, value } of this.sources.entries()) lines.push(`${this.name}${labelText(labels)} ${formatValue(value())}`);
    if (lines.length === 0) lines.push(`${this.name} 0`);
    return lines;
  }
}

export class Gauge extends Family {
  private readonly series = new Series<Source>();

  constructor(name: string, help: string) {
    super(name, help, 'gauge');
  }

  set(value: Source, labels: Labels = {}): this {
    this.series.set(labels, value);
    return this;
  }

  clear(): void {
    this.series.clear();
  }

  protected samples(): string[] {
    const lines: string[] = [];
    for (const { labels, value } of this.series.entries()) lines.push(`${this.name}${labelText(labels)} ${formatValue(typeof value === 'function' ? value() : value)}`);
    return lines;
  }
}

interface HistogramCell {
  readonly counts: number[];
  sum: number;
  count: number;
}

export class Histogram extends Family {
  private readonly series = new Series<HistogramCell>();

  constructor(name: string, help: string, private readonly bounds: readonly number[]) {
    super(name, help, 'histogram');
  }

  observe(value: number, labels: Labels = {}): void {
    const cell = this.series.get(labels, () => ({ counts: this.bounds.map(() => 0), sum: 0, count: 0 }));
    if (cell === null) return;
    cell.sum += value;
    cell.count += 1;
    // Each bucket counts every value at or below its bound, so the counts are cumulative as the format wants.
    for (let i = 0; i < this.bounds.length; i++) if (value <= (this.bounds[i] ?? Infinity)) cell.counts[i] = (cell.counts[i] ?? 0) + 1;
  }

  protected samples(): string[] {
    const lines: string[] = [];
    const cells = this.series.size === 0 ? [{ labels: {}, value: { counts: this.bounds.map(() => 0), sum: 0, count: 0 } }] : [...this.series.entries()];
    for (const { labels, value } of cells) {
      this.bounds.forEach((bound, i) => lines.push(`${this.name}_bucket${labelText(labels, `le="${formatValue(bound)}"`)} ${value.counts[i] ?? 0}`));
      lines.push(`${this.name}_bucket${labelText(labels, 'le="+Inf"')} ${value.count}`);
      lines.push(`${this.name}_sum${labelText(labels)} ${formatValue(value.sum)}`, `${this.name}_count${labelText(labels)} ${value.count}`);
    }
    return lines;
  }
}

export interface SummaryValue {
  readonly quantiles: ReadonlyMap<number, number>;
  readonly sum: number;
  readonly count: number;
}

/** A summary whose quantiles its owner computes; read at scrape time. */
export class Summary extends Family {
  constructor(name: string, help: string, private readonly read: () => SummaryValue | null) {
    super(name, help, 'summary');
  }

  protected samples(): string[] {
    const value = this.read();
    if (value === null) return [];
    const lines = [...value.quantiles].map(([q, v]) => `${this.name}{quantile="${q}"} ${formatValue(v)}`);
    lines.push(`${this.name}_sum ${formatValue(value.sum)}`, `${this.name}_count ${value.count}`);
    return lines;
  }
}

/** One sample of a collected counter or gauge. */
export type Sample = { readonly labels: Labels; readonly value: number };
/** One series of a collected histogram: per-bucket (not cumulative) counts aligned with the bounds, then sum and count. */
export type HistogramSample = { readonly labels: Labels; readonly buckets: readonly number[]; readonly sum: number; readonly count: number };

/**
 * Series a collected family renders at most. Its owner bounds its own cardinality (the job
 * table keeps 1,000 jobs with series, the rest as `_other`); this is the registry's backstop.
 */
export const COLLECTED_SERIES_MAX = 10_000;

function bounded<T>(items: Iterable<T>): T[] {
  const out: T[] = [];
  for (const item of items) {
    if (out.length >= COLLECTED_SERIES_MAX) break;
    out.push(item);
  }
  return out;
}

/** A counter or gauge whose series its owner lists at scrape time (label sets that come and go). */
class CollectedFamily extends Family {
  constructor(name: string, help: string, kind: 'counter' | 'gauge', private readonly read: () => Iterable<Sample>) {
    super(name, help, kind);
  }

  protected samples(): string[] {
    return bounded(this.read()).map((s) => `${this.name}${labelText(s.labels)} ${formatValue(s.value)}`);
  }
}

/** A histogram whose counts its owner keeps (per bucket); rendered cumulative, ending in +Inf = count. */
class CollectedHistogram extends Family {
  constructor(name: string, help: string, private readonly bounds: readonly number[], private readonly read: () => Iterable<HistogramSample>) {
    super(name, help, 'histogram');
  }

  protected samples(): string[] {
    const lines: string[] = [];
    for (const s of bounded(this.read())) {
      let cumulative = 0;
      this.bounds.forEach((bound, i) => {
        cumulative += s.buckets[i] ?? 0;
        lines.push(`${this.name}_bucket${labelText(s.labels, `le="${formatValue(bound)}"`)} ${cumulative}`);
      });
      lines.push(`${this.name}_bucket${labelText(s.labels, 'le="+Inf"')} ${s.count}`);
      lines.push(`${this.name}_sum${labelText(s.labels)} ${formatValue(s.sum)}`, `${this.name}_count${labelText(s.labels)} ${s.count}`);
    }
    return lines;
  }
}

export const LATENCY_BUCKETS_SECONDS: readonly number[] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export class Registry {
  private readonly families = new Map<string, Family>();

  private add<F extends Family>(family: F): F {
    if (this.families.has(family.name)) throw new Error(`metric ${family.name} is registered twice`);
    this.families.set(family.name, family);
    return family;
  }

  counter(name: string, help: string): Counter {
    return this.add(new Counter(name, help));
  }

  gauge(name: string, help: string): Gauge {
    return this.add(new Gauge(name, help));
  }

  histogram(name: string, help: string, bounds: readonly number[] = LATENCY_BUCKETS_SECONDS): Histogram {
    return this.add(new Histogram(name, help, bounds));
  }

  /** A counter or gauge with label sets listed by its owner at scrape time. */
  collect(name: string, help: string, kind: 'counter' | 'gauge', read: () => Iterable<Sample>): void {
    this.add(new CollectedFamily(name, help, kind, read));
  }

  /** A histogram whose per-bucket counts its owner keeps; `bounds` ascending, +Inf implied. */
  collectHistogram(name: string, help: string, bounds: readonly number[], read: () => Iterable<HistogramSample>): void {
    this.add(new CollectedHistogram(name, help, bounds, read));
  }

  summary(name: string, help: string, read: () => SummaryValue | null): Summary {
    return this.add(new Summary(name, help, read));
  }

  /** The whole text exposition, every family once, HELP and TYPE before its samples. */
  render(): string {
    return [...this.families.values()].flatMap((f) => f.render()).join('\n') + '\n';
  }
}
