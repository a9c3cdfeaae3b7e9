// `node dist/test/bench/profile-summary.js FILE.cpuprofile [N]`: self time by function and by
// file (top N), and the idle share, from a V8 CPU profile (see cpu-profile.ts).
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const file = process.argv[2];
if (file === undefined) throw new Error('usage: profile-summary FILE.cpuprofile [N]');
const top = Number(process.argv[3] ?? '40');
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parentOf = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
let totalUs = 0;
const byFunction = new Map<string, number>();
const byFile = new Map<string, number>();
for (const [id, us] of selfUs) {
  const node = byId.get(id);
  if (node === undefined) continue;
  totalUs += us;
  const url = node.callFrame.url.replace(/^.*\/(node_modules|dist)\//, '$1/');
  const name = `${node.callFrame.functionName || '(anonymous)'} ${url}:${node.callFrame.lineNumber + 1}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + us);
  byFile.set(url || node.callFrame.functionName, (byFile.get(url || node.callFrame.functionName) ?? 0) + us);
}
const show = (title: string, map: Map<string, number>) => {
  console.log(`-- ${title}`);
  for (const [name, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${(us / 1000).toFixed(0).padStart(7)} ms ${((100 * us) / totalUs).toFixed(1).padStart(5)} %  ${name}`);
  }
};
// Time charged to the nearest chime function on the stack (with every library and builtin
// frame it called): which of our functions the CPU is spent for.
const byOwnCaller = new Map<string, number>();
for (const [id, us] of selfUs) {
  let at: number | undefined = id;
  let name = '(no chime frame)';
  while (at !== undefined) {
    const frame = byId.get(at)?.callFrame;
    if (frame !== undefined && frame.url.includes('/dist/src/')) {
      name = `${frame.functionName || '(anonymous)'} ${frame.url.replace(/^.*\/dist\//, '')}:${frame.lineNumber + 1}`;
      break;
    }
    at = parentOf.get(at);
  }
  if (name === '(no chime frame)') name = `${name} ${byId.get(id)?.callFrame.functionName ?? ''}`;
  byOwnCaller.set(name, (byOwnCaller.get(name) ?? 0) + us);
}
console.log(`total ${(totalUs / 1000).toFixed(0)} ms`);
show('self time by file', byFile);
show('self time by function', byFunction);
show('time by nearest chime function on the stack', byOwnCaller);
