// A strict reader of the Prometheus text exposition format (0.0.4), for tests: it throws on
// anything a scraper could misread or that breaks the conventions chime follows — a family
// declared twice or interleaved with another, a sample before its TYPE or of no declared
// family, a duplicate series, a counter not named *_total or negative, a histogram whose
// buckets are not cumulative, do not end in +Inf, or disagree with _count.

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
export type ParsedSample = { readonly name: string; readonly labels: Readonly<Record<string, string>>; readonly value: number };
export type ParsedFamily = { readonly name: string; readonly type: MetricType; readonly help: string | null; readonly samples: ParsedSample[] };

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES: readonly MetricType[] = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];

function fail(lineNo: number, message: string): never {
  throw new Error(`metrics line ${lineNo}: ${message}`);
}

function parseValue(text: string, lineNo: number): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return Number.NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) fail(lineNo, `"${text}" is not a number`);
  return Number(text);
}

/** `{a="x",b="y\"z"}` → labels; the index just after the closing brace. */
function parseLabels(line: string, start: number, lineNo: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = start + 1;
  for (;;) {
    if (line[i] === '}') return { labels, end: i + 1 };
    const eq = line.indexOf('=', i);
    if (eq < 0) fail(lineNo, 'a label without =');
    const name = line.slice(i, eq);
    if (!LABEL_NAME.test(name)) fail(lineNo, `bad label name "${name}"`);
    if (Object.hasOwn(labels, name)) fail(lineNo, `label ${name} twice`);
    if (line[eq + 1] !== '"') fail(lineNo, 'a label value must be quoted');
    let value = '';
    let j = eq + 2;
    for (; j < line.length && line[j] !== '"'; j++) {
      if (line[j] === '\\') {
        const next = line[++j];
        if (next === 'n') value += '\n';
        else if (next === '\\' || next === '"') value += next;
        else fail(lineNo, `bad escape \\${next ?? ''}`);
      } else value += line[j];
    }
    if (j >= line.length) fail(lineNo, 'an unterminated label value');
    labels[name] = value;
    i = j + 1;
    if (line[i] === ',') i++;
    else if (line[i] !== '}') fail(lineNo, 'labels must be separated by commas');
  }
}

function familyOfSample(name: string, families: Map<string, ParsedFamily>): ParsedFamily | undefined {
  const exact = families.get(name);
  if (exact !== undefined && exact.type !== 'histogram') return exact;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!name.endsWith(suffix)) continue;
    const family = families.get(name.slice(0, -suffix.length));
    if (family?.type === 'histogram' || (family?.type === 'summary' && suffix !== '_bucket')) return family;
  }
  return undefined;
}

function seriesKey(name: string, labels: Readonly<Record<string, string>>, without: string | null = null): string {
  return `${name}{${Object.keys(labels).filter((k) => k !== without).sort().map((k) => `${k}=${JSON.stringify(labels[k])}`).join(',')}}`;
}

function checkHistogram(family: ParsedFamily): void {
  const groups = new Map<string, { buckets: { le: number; value: number }[]; sum: number | null; count: number | null }>();
  for (const s of family.samples) {
    const key = seriesKey(family.name, s.labels, 'le');
    const group = groups.get(key) ?? { buckets: [], sum: null, count: null };
    groups.set(key, group);
    if (s.name.endsWith('_bucket')) {
      const le = s.labels['le'];
      if (le === undefined) throw new Error(`${family.name}: a bucket without le`);
      group.buckets.push({ le: le === '+Inf' ? Infinity : Number(le), value: s.value });
    } else if (s.name.endsWith('_sum')) group.sum = s.value;
    else if (s.name.endsWith('_count')) group.count = s.value;
    else throw new Error(`${family.name}: sample ${s.name} is not a histogram's`);
  }
  for (const [key, g] of groups) {
    if (g.buckets.length === 0 || g.sum === null || g.count === null) throw new Error(`${key}: a histogram needs buckets, _sum and _count`);
    for (let i = 1; i < g.buckets.length; i++) {
      const a = g.buckets[i - 1];
      const b = g.buckets[i];
      if (a === undefined || b === undefined) continue;
      if (!(b.le > a.le)) throw new Error(`${key}: bucket bounds must increase (${a.le} then ${b.le})`);
      if (b.value < a.value) throw new Error(`${key}: buckets must be cumulative (le=${b.le} has ${b.value} < ${a.value})`);
    }
    const last = g.buckets[g.buckets.length - 1];
    if (last === undefined || last.le !== Infinity) throw new Error(`${key}: the last bucket must be le="+Inf"`);
    if (last.value !== g.count) throw new Error(`${key}: the +Inf bucket (${last.value}) must equal _count (${g.count})`);
  }
}

/** Parses and checks a whole exposition; the families by name. */
export function parseExposition(text: string): Map<string, ParsedFamily> {
  const families = new Map<string, ParsedFamily>();
  const series = new Set<string>();
  const closed = new Set<string>();
  let current: ParsedFamily | null = null;
  const enter = (family: ParsedFamily, lineNo: number): void => {
    if (current === family) return;
    if (closed.has(family.name)) fail(lineNo, `family ${family.name} continues after another family`);
    if (current !== null) closed.add(current.name);
    current = family;
  };
  text.split('\n').forEach((line, index) => {
    const lineNo = index + 1;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (m === null) return; // a plain comment
      const [, kind, name = '', rest = ''] = m;
      if (!METRIC_NAME.test(name)) fail(lineNo, `bad metric name "${name}"`);
      let family = families.get(name);
      if (kind === 'TYPE') {
        const type = TYPES.find((t) => t === rest);
        if (type === undefined) fail(lineNo, `unknown type "${rest}"`);
        if (family !== undefined && family.samples.length > 0) fail(lineNo, `TYPE of ${name} after its samples`);
        if (family !== undefined && family.type !== 'untyped') fail(lineNo, `family ${name} is declared twice`);
        if (type === 'counter' && !name.endsWith('_total')) fail(lineNo, `counter ${name} should end in _total`);
        family = { name, type, help: family?.help ?? null, samples: [] };
        families.set(name, family);
      } else {
        if (family?.help != null) fail(lineNo, `HELP of ${name} twice`);
        family = { name, type: family?.type ?? 'untyped', help: rest, samples: family?.samples ?? [] };
        families.set(name, family);
      }
      enter(family, lineNo);
      return;
    }
    const brace = line.indexOf('{');
    const space = line.indexOf(' ');
    const nameEnd = brace >= 0 && brace < space ? brace : space;
    if (nameEnd <= 0) fail(lineNo, 'a sample needs a name and a value');
    const name = line.slice(0, nameEnd);
    if (!METRIC_NAME.test(name)) fail(lineNo, `bad metric name "${name}"`);
    let labels: Record<string, string> = {};
    let at = nameEnd;
    if (line[at] === '{') ({ labels, end: at } = parseLabels(line, at, lineNo));
    const fields = line.slice(at).trim().split(/\s+/);
    if (fields.length < 1 || fields.length > 2 || fields[0] === undefined || fields[0] === '') fail(lineNo, 'a sample needs one value (and an optional timestamp)');
    const value = parseValue(fields[0], lineNo);
    const family = familyOfSample(name, families);
    if (family === undefined || family.type === 'untyped') fail(lineNo, `sample ${name} has no TYPE before it`);
    enter(family, lineNo);
    const key = seriesKey(name, labels);
    if (series.has(key)) fail(lineNo, `duplicate series ${key}`);
    series.add(key);
    if (family.type === 'counter' && !(value >= 0)) fail(lineNo, `counter ${name} is ${value}`);
    family.samples.push({ name, labels, value });
  });
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family);
  return families;
}

/** The value of one series, or undefined. */
export function sampleValue(families: Map<string, ParsedFamily>, name: string, labels: Readonly<Record<string, string>>): number | undefined {
  for (const family of families.values()) {
    for (const s of family.samples) {
      if (s.name === name && Object.keys(labels).every((k) => s.labels[k] === labels[k]) && Object.keys(s.labels).length === Object.keys(labels).length) return s.value;
    }
  }
  return undefined;
}
