// Checks an execute request as untrusted input: it arrives from the network. Returns a fresh,
// frozen-shaped copy so later mutation by the caller cannot change a running request.
import type { ExecuteRequest, ExecutorLimits, ExecutorSpec, HttpSpec, ShellSpec } from './types.js';
import { isMap } from '../guards/index.js';

export type Validation<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

const MS_EPOCH_MAX = 8_640_000_000_000_000;
const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

function fail<T>(error: string): Validation<T> {
  return { ok: false, error };
}

function boundedString(value: unknown, path: string, maxBytes: number, allowEmpty: boolean): string | Error {
  if (typeof value !== 'string') return new Error(`${path} must be a string`);
  if (!allowEmpty && value.length === 0) return new Error(`${path} must not be empty`);
  if (bytes(value) > maxBytes) return new Error(`${path} exceeds ${maxBytes} bytes`);
  if (value.includes('\0')) return new Error(`${path} must not contain NUL`);
  return value;
}

function stringMap(value: unknown, path: string, entriesMax: number, bytesMax: number): Record<string, string> | Error {
  if (!isMap(value)) return new Error(`${path} must be an object of strings`);
  const entries = Object.entries(value);
  if (entries.length > entriesMax) return new Error(`${path} has more than ${entriesMax} entries`);
  const out: Record<string, string> = {};
  let total = 0;
  for (const [name, v] of entries) {
    if (typeof v !== 'string') return new Error(`${path}.${name} must be a string`);
    if (name.length === 0 || name.includes('\0') || v.includes('\0')) return new Error(`${path}.${name} must not be empty or contain NUL`);
    total += bytes(name) + bytes(v);
    out[name] = v;
  }
  if (total > bytesMax) return new Error(`${path} exceeds ${bytesMax} bytes`);
  return out;
}

function validateShell(spec: Record<string, unknown>, limits: ExecutorLimits): Validation<ShellSpec> {
  const command = boundedString(spec['command'], 'spec.command', limits.commandBytesMax, false);
  if (command instanceof Error) return fail(command.message);
  const env = stringMap(spec['env'] ?? {}, 'spec.env', limits.envEntriesMax, limits.envBytesMax);
  if (env instanceof Error) return fail(env.message);
  if (Object.keys(env).some((name) => name.includes('='))) return fail('spec.env names must not contain "="');
  const cwd = boundedString(spec['cwd'] ?? '/', 'spec.cwd', limits.cwdBytesMax, false);
  if (cwd instanceof Error) return fail(cwd.message);
  return { ok: true, value: { type: 'shell', command, env, cwd } };
}

function validateExpectStatus(value: unknown): readonly [number, number] | Error {
  if (value === undefined) return [200, 299];
  if (!Array.isArray(value) || value.length !== 2) return new Error('spec.expectStatus must be [lo, hi]');
  const [lo, hi]: unknown[] = value;
  const isStatus = (s: unknown): s is number => Number.isInteger(s) && typeof s === 'number' && s >= 100 && s <= 599;
  if (!isStatus(lo) || !isStatus(hi) || lo > hi) return new Error('spec.expectStatus must be two statuses 100..599 with lo <= hi');
  return [lo, hi];
}

function validateHttp(spec: Record<string, unknown>, limits: ExecutorLimits): Validation<HttpSpec> {
  const method = typeof spec['method'] === 'string' ? spec['method'].toUpperCase() : 'GET';
  if (!HTTP_METHODS.has(method)) return fail(`spec.method must be one of ${[...HTTP_METHODS].join(', ')}`);
  const url = boundedString(spec['url'], 'spec.url', limits.urlBytesMax, false);
  if (url instanceof Error) return fail(url.message);
  // Placeholders are substituted later; the template must already be an http(s) URL.
  if (!/^https?:\/\//i.test(url)) return fail('spec.url must start with http:// or https://');
  const headers = stringMap(spec['headers'] ?? {}, 'spec.headers', limits.headersMax, limits.headerBytesMax);
  if (headers instanceof Error) return fail(headers.message);
  if (Object.keys(headers).some((name) => !HEADER_NAME.test(name))) return fail('spec.headers has an invalid header name');
  const body = boundedString(spec['body'] ?? '', 'spec.body', limits.bodyBytesMax, true);
  if (body instanceof Error) return fail(body.message);
  if (body.length > 0 && (method === 'GET' || method === 'HEAD')) return fail(`spec.body is not allowed with ${method}`);
  const expectStatus = validateExpectStatus(spec['expectStatus']);
  if (expectStatus instanceof Error) return fail(expectStatus.message);
  return { ok: true, value: { type: 'http', method, url, headers, body, expectStatus } };
}

function validateSpec(value: unknown, limits: ExecutorLimits): Validation<ExecutorSpec> {
  if (!isMap(value)) return fail('spec must be an object');
  if (value['type'] === 'shell') return validateShell(value, limits);
  if (value['type'] === 'http') return validateHttp(value, limits);
  return fail('spec.type must be "shell" or "http"');
}

/** Secrets to mask in the output: non-empty strings (an empty one would match everywhere). */
function validateMaskValues(value: unknown, limits: ExecutorLimits): readonly string[] | Error {
  if (!Array.isArray(value)) return new Error('maskValues must be an array of strings');
  if (value.length > limits.maskValuesMax) return new Error(`maskValues has more than ${limits.maskValuesMax} entries`);
  const out: string[] = [];
  for (const [i, item] of value.entries()) {
    const text = boundedString(item, `maskValues[${i}]`, limits.maskValueBytesMax, false);
    if (text instanceof Error) return text;
    out.push(text);
  }
  return out;
}

function isIntIn(value: unknown, lo: number, hi: number): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= lo && value <= hi;
}

/** `nowMs` bounds how far ahead notBeforeMs may lie. */
export function validateExecuteRequest(value: unknown, limits: ExecutorLimits, nowMs: number): Validation<ExecuteRequest> {
  if (!isMap(value)) return fail('request must be an object');
  const runId = boundedString(value['runId'], 'runId', limits.idBytesMax, false);
  if (runId instanceof Error) return fail(runId.message);
  const jobId = boundedString(value['jobId'], 'jobId', limits.idBytesMax, false);
  if (jobId instanceof Error) return fail(jobId.message);
  const payload = boundedString(value['payload'] ?? '', 'payload', limits.payloadBytesMax, true);
  if (payload instanceof Error) return fail(payload.message);
  const { attempt, term, scheduledAtMs, timeoutMs } = value;
  if (!isIntIn(attempt, 1, Number.MAX_SAFE_INTEGER)) return fail('attempt must be a positive integer');
  if (!isIntIn(term, 0, Number.MAX_SAFE_INTEGER)) return fail('term must be a non-negative integer');
  if (!isIntIn(scheduledAtMs, 0, MS_EPOCH_MAX)) return fail('scheduledAtMs must be a time in ms since the epoch');
  if (!isIntIn(timeoutMs, 1, limits.timeoutMsMax)) return fail(`timeoutMs must be an integer in 1..${limits.timeoutMsMax}`);
  const notBeforeMs = value['notBeforeMs'] ?? null;
  if (notBeforeMs !== null && !isIntIn(notBeforeMs, 0, MS_EPOCH_MAX)) return fail('notBeforeMs must be null or a time in ms');
  const sentAtMs = value['sentAtMs'];
  if (sentAtMs !== undefined && !isIntIn(sentAtMs, 0, MS_EPOCH_MAX)) return fail('sentAtMs must be absent or a time in ms');
  if (notBeforeMs !== null && notBeforeMs - (sentAtMs ?? nowMs) > limits.notBeforeLeadMsMax) {
    return fail(`notBeforeMs lies more than ${limits.notBeforeLeadMsMax} ms ahead`);
  }
  const spec = validateSpec(value['spec'], limits);
  if (!spec.ok) return spec;
  const maskValues = value['maskValues'] === undefined ? undefined : validateMaskValues(value['maskValues'], limits);
  if (maskValues instanceof Error) return fail(maskValues.message);
  return {
    ok: true,
    value: {
      runId, attempt, term, jobId, scheduledAtMs, payload, notBeforeMs, ...(sentAtMs === undefined ? {} : { sentAtMs }), timeoutMs, spec: spec.value,
      ...(maskValues === undefined || maskValues.length === 0 ? {} : { maskValues }),
    },
  };
}
