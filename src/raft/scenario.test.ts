// Runs the scripted scenarios in testdata/*.txt (after etcd-io/raft's interaction tests).
// Each line is a step or an expectation; a failing one reports the file and line, so a
// scenario reads as its own spec. After every step the network checks Raft's safety
// properties (election safety, one vote per term, committed entries never differ, applied
// sequences agree), so a scenario catches a broken rule even where it expects nothing.
//
// Two modes. `mode auto` (the default): every step delivers all messages until the network
// is quiet. `mode manual`: nothing moves unless a step says so —
//   process-ready n1 [n2…]   hand the nodes' Readys to a correct host: write (synced when
//                            mustSync), apply, advance; their messages are queued, not sent
//   deliver [filter]         deliver the queued messages that match
//   drop [filter]            lose them
//   msgs [filter]            show them
//   stabilize                deliver and process until quiet (in either mode)
//   inject <message>         step a hand-written append or heartbeat, written as the golden
//                            output prints it (`n2->n3 app t3 prev=4/2 commit=7 [5/2:a]`)
// where a filter is any of `type=app`, `from=n1`, `to=n2`, `n1->n2`, `term=4`, `count=1`.
// Lines starting with `> ` after a step are its golden output (messages, Readys, logs) and
// must match exactly; RAFT_SCENARIO_REWRITE=1 rewrites them from the actual output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestNetwork, formatEntry, formatMessage, formatReady, matchesFilter, type MessageFilter } from '../../test/support/raft-network.js';
import type { ConfChangeType, Entry, Message, MessageType, ProposeResult, RaftError } from './types.js';

const here = dirname(fileURLToPath(import.meta.url));
const dataDir = resolve(here, '..', '..', '..', 'src', 'raft', 'testdata');
const rewrite = process.env['RAFT_SCENARIO_REWRITE'] === '1';

interface Run {
  net: TestNetwork | null;
  manual: boolean;
  error: RaftError | null;
}

function parseFilter(words: readonly string[]): MessageFilter {
  const filter: { type?: MessageType; from?: string; to?: string; term?: number; count?: number } = {};
  for (const word of words) {
    const arrow = /^([^=]+)->(.+)$/.exec(word);
    if (arrow !== null) {
      filter.from = arrow[1] as string;
      filter.to = arrow[2] as string;
      continue;
    }
    const [key, value = ''] = word.split('=');
    if (key === 'type') filter.type = value as MessageType;
    else if (key === 'from') filter.from = value;
    else if (key === 'to') filter.to = value;
    else if (key === 'term') filter.term = Number(value);
    else if (key === 'count') filter.count = Number(value);
    else throw new Error(`unknown filter ${word}`);
  }
  return filter;
}

/** Parses an append or heartbeat written as formatMessage prints it. */
function parseMessage(text: string): Message {
  const app = /^(\S+)->(\S+) app t(\d+) prev=(\d+)\/(\d+) commit=(\d+) \[(.*)\]$/.exec(text);
  if (app !== null) {
    const [, from = '', to = '', term, prevIndex, prevTerm, commit, list = ''] = app;
    const entries: Entry[] = list.split(' ').filter(Boolean).map((word) => {
      const [at = '', data = ''] = word.split(':');
      const [index, entryTerm] = at.split('/').map(Number);
      return { index: index as number, term: entryTerm as number, kind: 'normal', data: new TextEncoder().encode(data) };
    });
    return { type: 'app', from, to, term: Number(term), prevIndex: Number(prevIndex), prevTerm: Number(prevTerm), commit: Number(commit), entries };
  }
  const hb = /^(\S+)->(\S+) heartbeat t(\d+) commit=(\d+) round=(\d+)$/.exec(text);
  if (hb !== null) {
    const [, from = '', to = '', term, commit, round] = hb;
    return { type: 'heartbeat', from, to, term: Number(term), commit: Number(commit), readRound: Number(round) };
  }
  throw new Error(`cannot inject ${text}: only app and heartbeat messages`);
}

/** Runs one step; returns its printable output (checked against `> ` lines when present). */
function runStep(run: Run, words: string[]): string[] {
  const [verb, ...args] = words;
  const arg = (i: number): string => {
    const value = args[i];
    if (value === undefined) throw new Error(`${verb} needs argument ${i + 1}`);
    return value;
  };
  if (verb === 'new') {
    // `key=value` words override numeric RaftConfig fields for this scenario (0/1 for booleans).
    const overrides = Object.fromEntries(args.filter((a) => a.includes('=')).map((a) => {
      const [key = '', value = ''] = a.split('=');
      return [key, key === 'preVote' || key === 'checkQuorum' ? value === '1' : Number(value)];
    }));
    run.net = new TestNetwork(args.filter((a) => !a.includes('=')), overrides);
    return [];
  }
  const net = run.net;
  if (net === null) throw new Error('start with "new"');
  const settle = () => {
    if (!run.manual) net.stabilize();
  };
  const fromResult = (r: ProposeResult | RaftError | null) => {
    run.error = r === null ? null : 'ok' in r ? (r.ok ? null : r.error) : r;
    settle();
  };
  switch (verb) {
    case 'mode': run.manual = arg(0) === 'manual'; return [];
    case 'campaign': net.get(arg(0)).node.campaign(); settle(); return [];
    case 'stabilize': net.stabilize(); return [];
    case 'tick': {
      const times = Number(arg(0));
      if (!run.manual) net.tickAll(times);
      else for (let i = 0; i < times; i++) for (const n of net.nodes.values()) if (n.up) n.node.tick();
      return [];
    }
    case 'tick-node': for (let i = 0; i < Number(args[1] ?? '1'); i++) net.get(arg(0)).node.tick(); return [];
    case 'propose': fromResult(net.get(arg(0)).node.propose(args.slice(1).map((t) => new TextEncoder().encode(t)))); return [];
    case 'isolate': net.isolate(arg(0)); return [];
    case 'cut': net.cut.add(`${arg(0)}->${arg(1)}`); return [];
    case 'heal': net.heal(); return [];
    case 'crash': net.crash(arg(0)); return [];
    case 'start': net.start(arg(0)); settle(); return [];
    case 'restart': net.restart(arg(0)); settle(); return [];
    case 'snapshot': net.snapshot(arg(0), Number(args[1] ?? '0')); return [];
    case 'add-node': net.addEmpty(arg(0)); return [];
    case 'conf': fromResult(net.get(arg(0)).node.proposeConfChange({ type: arg(1) as ConfChangeType, node: arg(2), context: '' })); return [];
    case 'transfer': fromResult(net.get(arg(0)).node.transferLeader(arg(1))); return [];
    case 'read': fromResult(net.get(arg(0)).node.readIndex(arg(1))); return [];
    case 'process-ready': return net.processReady(args).flatMap(({ id, ready }) => [formatReady(id, ready), ...ready.messages.map(formatMessage)]);
    case 'deliver': {
      const taken = net.takeQueued(parseFilter(args));
      for (const m of taken) net.deliver(m);
      return taken.map(formatMessage);
    }
    case 'drop': return net.takeQueued(parseFilter(args)).map((m) => `dropped ${formatMessage(m)}`);
    case 'inject': {
      const m = parseMessage(args.join(' '));
      net.deliver(m);
      return [formatMessage(m)];
    }
    case 'msgs': {
      const filter = parseFilter(args);
      return net.queue.filter((m) => matchesFilter(m, filter)).map(formatMessage);
    }
    case 'log': {
      const storage = net.get(arg(0)).storage;
      const first = storage.firstIndex();
      const entries = storage.lastIndex() >= first ? storage.entries(first, storage.lastIndex() + 1, Number.MAX_SAFE_INTEGER) : [];
      return [`${arg(0)} log ${entries.map(formatEntry).join(' ') || '(empty)'}`];
    }
    case 'status': {
      const st = net.get(arg(0)).node.status();
      return [`${arg(0)} ${st.softState.role} term=${st.hardState.term} vote=${st.hardState.vote ?? '-'} commit=${st.hardState.commit} applied=${st.applied} last=${st.lastIndex} lead=${st.softState.leader ?? '-'}`];
    }
    case 'expect': expectStep(net, args, run); return [];
    default: throw new Error(`unknown step ${verb}`);
  }
}

function expectStep(net: TestNetwork, args: string[], run: Run): void {
  const [what, id = '', value = ''] = args;
  const status = () => net.get(id).node.status();
  switch (what) {
    case 'leader': assert.equal(net.leader() ?? 'none', id); break;
    case 'role': assert.equal(status().softState.role, value); break;
    case 'term': assert.equal(status().hardState.term, Number(value)); break;
    case 'vote': assert.equal(status().hardState.vote ?? '-', value); break;
    case 'commit': assert.equal(status().hardState.commit, Number(value)); break;
    case 'applied': assert.equal(net.appliedTexts(id).join(',') || '-', value); break;
    case 'voters': assert.equal([...status().conf.voters].sort().join(','), value); break;
    case 'learners': assert.equal([...status().conf.learners].sort().join(',') || '-', value); break;
    case 'reads': assert.equal(net.get(id).readStates.map((r) => `${r.context}@${r.index}`).join(',') || '-', value); break;
    case 'read-failures': assert.equal(net.get(id).readFailures.join(',') || '-', value); break;
    case 'error': assert.equal(run.error?.code ?? 'none', id); break;
    case 'handing-off': assert.equal(status().handingOff ? 'yes' : 'no', value); break;
    case 'first-index': assert.equal(net.get(id).storage.firstIndex(), Number(value)); break;
    case 'snapshot-chunks': {
      const chunks = net.trace.filter((m) => m.type === 'snap' && m.to === id).length;
      assert.ok(chunks >= Number(value), `expected at least ${value} snapshot chunks to ${id}, saw ${chunks}`);
      break;
    }
    default: throw new Error(`unknown expectation ${what}`);
  }
}

/**
 * Runs a scenario file; with `rewrite`, returns the file with its golden lines replaced. A
 * failing step throws; in rewrite mode the output up to it is saved first, so a new
 * scenario can be written a few steps at a time.
 */
function runScenario(file: string, text: string, save: (text: string) => void): string {
  const lines = text.split('\n');
  const out: string[] = [];
  const run: Run = { net: null, manual: false, error: null };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.startsWith('> ')) continue; // golden lines are consumed by the step above them
    out.push(line);
    const words = line.replace(/#.*$/, '').trim().split(/\s+/).filter(Boolean);
    if (words.length === 0) continue;
    const golden: string[] = [];
    while (i + 1 < lines.length && (lines[i + 1] as string).startsWith('> ')) golden.push((lines[++i] as string).slice(2));
    try {
      const actual = runStep(run, words);
      run.net?.checkSafety();
      if (rewrite) out.push(...actual.map((l) => `> ${l}`));
      else if (golden.length > 0) assert.deepEqual(actual, golden);
    } catch (error) {
      if (rewrite) save([...out, ...lines.slice(i + 1)].join('\n'));
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(`${file}:${i + 1}: ${line.trim()}\n${message}`, { cause: error });
    }
  }
  return out.join('\n');
}

for (const file of readdirSync(dataDir).filter((f) => f.endsWith('.txt')).sort()) {
  test(`scenario ${file}`, () => {
    const path = join(dataDir, file);
    const text = readFileSync(path, 'utf8');
    const save = (result: string) => {
      if (result !== text) writeFileSync(path, result);
    };
    const result = runScenario(file, text, save);
    if (rewrite) save(result);
  });
}
