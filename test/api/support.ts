// Helpers shared by the API tests: a cluster per file, raw HTTP requests, problem checks.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { type Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProcessCluster } from '../support/process-cluster.js';

export const MAIN = resolve(fileURLToPath(import.meta.url), '..', '..', '..', 'src', 'cli', 'main.js');

export interface Raw {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly text: string;
  readonly body: unknown;
}

/** One request with full control of headers and body; resolves with status, headers, body. */
/** `agent`: the connection pool to use; `sent`: called once the request's bytes are with the kernel. */
export interface RawOptions {
  readonly agent?: Agent;
  readonly sent?: () => void;
}

export function raw(address: string, method: string, path: string, headers: Record<string, string> = {}, body?: string | Buffer, timeoutMs = 10_000, options: RawOptions = {}): Promise<Raw> {
  const at = address.lastIndexOf(':');
  return new Promise((done, fail) => {
    const req = request({ host: address.slice(0, at), port: Number(address.slice(at + 1)), method, path, headers, timeout: timeoutMs, ...(options.agent === undefined ? {} : { agent: options.agent }) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = null;
        try {
          parsed = text === '' ? null : (JSON.parse(text) as unknown);
        } catch {
          parsed = text;
        }
        done({ status: res.statusCode ?? 0, headers: res.headers, text, body: parsed });
      });
    });
    if (options.sent !== undefined) req.on('finish', options.sent);
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', fail);
    req.end(body);
  });
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  errors?: { path: string; message: string }[];
}

/** Asserts an answer is an RFC 9457 problem with the given status and code; returns it. */
export function assertProblem(answer: { status: number; body: unknown; headers?: Raw['headers'] }, status: number, code: string): Problem {
  assert.equal(answer.status, status, `expected ${status} ${code}, got ${answer.status}: ${JSON.stringify(answer.body)}`);
  if (answer.headers !== undefined) assert.equal(answer.headers['content-type'], 'application/problem+json');
  const p = answer.body as Problem;
  assert.equal(typeof p.type, 'string');
  assert.ok(p.type.length > 0);
  assert.equal(typeof p.title, 'string');
  assert.equal(p.status, status);
  assert.equal(typeof p.detail, 'string');
  assert.ok(p.detail.length > 0);
  assert.equal(p.code, code);
  return p;
}

export const shellSpec = (command: string, extra: Record<string, unknown> = {}) => ({ schedule: '@manual', executor: { type: 'shell', command }, ...extra });

/** A fresh 3-node cluster in a temp dir; `close` kills it and removes the dir. */
export async function startCluster(args: readonly string[] = []): Promise<{ cluster: ProcessCluster; close: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'chime-api-'));
  const cluster = await ProcessCluster.found(3, { dir, args });
  return {
    cluster,
    close: async () => {
      await cluster.stopAll();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the chime CLI and resolves with its exit code and output (never rejects on exit code). */
export function cli(...args: string[]): Promise<CliResult> {
  return new Promise((done) => {
    execFile(process.execPath, [MAIN, ...args], { timeout: 20_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      done({ code, stdout, stderr });
    });
  });
}
