// Runs the scripted scenarios in testdata/*.txt. Each line is a step or an expectation:
// a failing expectation reports the file and line, so a scenario reads as its own spec.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestNetwork } from './testing.js';
import type { ConfChangeType, ProposeResult, RaftError } from './types.js';

const here = dirname(fileURLToPath(import.meta.url));
const dataDir = resolve(here, '..', '..', '..', 'src', 'raft', 'testdata');

type Outcome = { error: RaftError | null };

function runStep(net: TestNetwork | null, words: string[], last: Outcome): TestNetwork {
  const [verb, ...args] = words;
  const arg = (i: number): string => {
    const value = args[i];
    if (value === undefined) throw new Error(`${verb} needs argument ${i + 1}`);
    return value;
  };
  if (verb === 'new') {
    // `key=value` words override numeric RaftConfig fields for this scenario.
    const overrides = Object.fromEntries(args.filter((a) => a.includes('=')).map((a) => {
      const [key = '', value = ''] = a.split('=');
      return [key, Number(value)];
    }));
    return new TestNetwork(args.filter((a) => !a.includes('=')), overrides);
  }
  if (net === null) throw new Error('start with "new"');
  const fromResult = (r: ProposeResult | RaftError | null) => {
    last.error = r === null ? null : 'ok' in r ? (r.ok ? null : r.error) : r;
    net.stabilize();
  };
  switch (verb) {
    case 'campaign': net.get(arg(0)).node.campaign(); net.stabilize(); break;
    case 'stabilize': net.stabilize(); break;
    case 'tick': net.tickAll(Number(arg(0))); break;
    case 'propose': fromResult(net.get(arg(0)).node.propose(args.slice(1).map((t) => new TextEncoder().encode(t)))); break;
    case 'isolate': net.isolate(arg(0)); break;
    case 'cut': net.cut.add(`${arg(0)}->${arg(1)}`); break;
    case 'heal': net.heal(); break;
    case 'drop': net.dropTypes.add(arg(0) as never); break;
    case 'restart': net.restart(arg(0)); net.stabilize(); break;
    case 'snapshot': net.snapshot(arg(0), Number(args[1] ?? '0')); break;
    case 'add-node': net.addEmpty(arg(0)); break;
    case 'conf': {
      const type = arg(1) as ConfChangeType;
      fromResult(net.get(arg(0)).node.proposeConfChange({ type, node: arg(2), context: '' }));
      break;
    }
    case 'transfer': fromResult(net.get(arg(0)).node.transferLeader(arg(1))); break;
    case 'read': fromResult(net.get(arg(0)).node.readIndex(arg(1))); break;
    case 'expect': expectStep(net, args, last); break;
    default: throw new Error(`unknown step ${verb}`);
  }
  return net;
}

function expectStep(net: TestNetwork, args: string[], last: Outcome): void {
  const [what, id = '', value = ''] = args;
  const status = () => net.get(id).node.status();
  switch (what) {
    case 'leader': assert.equal(net.leader() ?? 'none', id); break;
    case 'role': assert.equal(status().softState.role, value); break;
    case 'term': assert.equal(status().hardState.term, Number(value)); break;
    case 'commit': assert.equal(status().hardState.commit, Number(value)); break;
    case 'applied': assert.equal(net.appliedTexts(id).join(','), value); break;
    case 'voters': assert.equal([...status().conf.voters].sort().join(','), value); break;
    case 'learners': assert.equal([...status().conf.learners].sort().join(',') || '-', value); break;
    case 'reads': assert.equal(net.get(id).readStates.map((r) => `${r.context}@${r.index}`).join(',') || '-', value); break;
    case 'read-failures': assert.equal(net.get(id).readFailures.join(',') || '-', value); break;
    case 'error': assert.equal(last.error?.code ?? 'none', id); break;
    case 'first-index': assert.equal(net.get(id).storage.firstIndex(), Number(value)); break;
    case 'snapshot-chunks': {
      const chunks = net.trace.filter((m) => m.type === 'snap' && m.to === id).length;
      assert.ok(chunks >= Number(value), `expected at least ${value} snapshot chunks to ${id}, saw ${chunks}`);
      break;
    }
    default: throw new Error(`unknown expectation ${what}`);
  }
}

for (const file of readdirSync(dataDir).filter((f) => f.endsWith('.txt')).sort()) {
  test(`scenario ${file}`, () => {
    const lines = readFileSync(join(dataDir, file), 'utf8').split('\n');
    let net: TestNetwork | null = null;
    const last: Outcome = { error: null };
    lines.forEach((line, i) => {
      const words = line.replace(/#.*$/, '').trim().split(/\s+/).filter(Boolean);
      if (words.length === 0) return;
      try {
        net = runStep(net, words, last);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        throw new Error(`${file}:${i + 1}: ${line.trim()}\n${message}`, { cause: error });
      }
    });
  });
}
