#!/usr/bin/env node
// Counts TypeScript type assertions (`x as T`, not `as const`, not import/export renames) in
// the non-test sources under the given folders (default src/), per folder and in total.
// Comments, strings and template literals are blanked first so prose does not count.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

function files(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...files(path));
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

/** The text with comments, strings and template literal text replaced by spaces. */
function code(text) {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    const next = text[i + 1];
    if (c === '/' && next === '/') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '/' && next === '*') {
      i += 2;
      while (i < text.length && !(text[i] === '*' && text[i + 1] === '/')) i++;
      i += 2;
    } else if (c === "'" || c === '"' || c === '`') {
      i++;
      while (i < text.length && text[i] !== c) i += text[i] === '\\' ? 2 : 1;
      i++;
      out += ' ';
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

const roots = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['src'];
const byFolder = new Map();
let total = 0;
for (const root of roots) {
  for (const file of statSync(root).isFile() ? [root] : files(root)) {
    const text = code(readFileSync(file, 'utf8'))
      .replace(/\b(import|export)\s+(type\s+)?\{[^}]*\}/g, ' ')
      .replace(/\b(import|export)\s+\*\s+as\s+\w+/g, ' ');
    const count = [...text.matchAll(/\bas\s+(?!const\b)[A-Za-z_{[(]/g)].length;
    const folder = relative('.', file).split('/').slice(0, 2).join('/');
    byFolder.set(folder, (byFolder.get(folder) ?? 0) + count);
    total += count;
  }
}
for (const [folder, count] of [...byFolder].sort()) console.log(`${String(count).padStart(5)}  ${folder}`);
console.log(`${String(total).padStart(5)}  total`);
