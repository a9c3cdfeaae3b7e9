// Secrets at rest (--secrets-key-file): each secret value is sealed with AES-256-GCM before it
// is proposed, so the log, the WAL, snapshots, journals and backups hold only ciphertext.
//
// Determinism: sealing draws a random nonce, so it happens at the edge (the API node, before
// proposing) and never inside the state machine's apply; every replica then stores the same
// ciphertext. Opening happens on the executing node right before a run starts, and the plain
// value lives only in that process's memory and the child's environment/request.
import { createCipheriv, createDecipheriv, createSecretKey, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import { itemAt } from './assert.js';
import { refused, type Refused } from './codes.js';

export const SECRETS_KEY_FILE_BYTES_MIN = 32;
export const SEALED_PREFIX = 'enc:v1:';
const KEY_INFO = 'chime secrets v1';
const KEY_ID_INFO = 'chime secrets key id v1';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** `enc:v1:KEYID:BASE64URL(nonce | ciphertext | tag)`; the key id names the key without revealing it. */
const SEALED_PATTERN = /^enc:v1:([A-Za-z0-9_-]{8}):([A-Za-z0-9_-]+)$/;

/** The derived key. A KeyObject, so printing or logging it never shows the bytes. */
export type SecretsKey = { readonly key: KeyObject; readonly keyId: string };

/**
 * The key from a --secrets-key-file: its bytes as they are (no trimming: any content of at
 * least 32 bytes; every node needs a byte-identical file), through HKDF-SHA256 with info
 * `chime secrets v1`. The key id comes from the same bytes under another info, so a node with
 * another file is told so instead of seeing "tampered".
 */
export function secretsKeyFromFile(bytes: Uint8Array): { readonly ok: true; readonly key: SecretsKey } | Refused<'SECRETS_KEY_TOO_SHORT'> {
  if (bytes.length < SECRETS_KEY_FILE_BYTES_MIN) {
    return refused('SECRETS_KEY_TOO_SHORT', `the secrets key file holds ${bytes.length} bytes; it needs at least ${SECRETS_KEY_FILE_BYTES_MIN}`);
  }
  const key = createSecretKey(Buffer.from(hkdfSync('sha256', bytes, new Uint8Array(0), KEY_INFO, 32)));
  const keyId = Buffer.from(hkdfSync('sha256', bytes, new Uint8Array(0), KEY_ID_INFO, 6)).toString('base64url');
  return { ok: true, key: { key, keyId } };
}

export function isSealed(value: string): boolean {
  return value.startsWith(SEALED_PREFIX);
}

/**
 * Seals one value. `context` names where the value belongs (secretContext) and is bound in as
 * associated data: a sealed value moved to another job or key no longer opens.
 */
export function sealSecret(key: SecretsKey, value: string, context: string): string {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key.key, nonce);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const body = Buffer.concat([nonce, cipher.update(value, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return `${SEALED_PREFIX}${key.keyId}:${body.toString('base64url')}`;
}

export function openSecret(key: SecretsKey, sealed: string, context: string): { readonly ok: true; readonly value: string } | Refused<'SECRET_MALFORMED' | 'SECRET_KEY_MISMATCH' | 'SECRET_TAMPERED'> {
  const m = SEALED_PATTERN.exec(sealed);
  if (m === null) return refused('SECRET_MALFORMED', 'not a sealed secret (enc:v1:KEYID:DATA)');
  if (m[1] !== key.keyId) {
    return refused('SECRET_KEY_MISMATCH', `the secret was sealed under key ${m[1]}, this node has key ${key.keyId}: every node needs a byte-identical --secrets-key-file`);
  }
  const body = Buffer.from(itemAt(m, 2), 'base64url');
  if (body.length < NONCE_BYTES + TAG_BYTES) return refused('SECRET_MALFORMED', 'the sealed secret is too short');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key.key, body.subarray(0, NONCE_BYTES));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    const value = Buffer.concat([decipher.update(body.subarray(NONCE_BYTES, body.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    return { ok: true, value };
  } catch {
    return refused('SECRET_TAMPERED', 'the sealed secret failed its integrity check: it was changed, or belongs to another job or key');
  }
}

/** Where a secret belongs: job id, field and key, the associated data of its seal. */
export function secretContext(jobId: string, field: string, name: string): string {
  return `${jobId}\u0000${field}\u0000${name}`;
}

type SecretMaps = { readonly secretEnv?: Readonly<Record<string, string>>; readonly secretHeaders?: Readonly<Record<string, string>> };
const FIELDS = ['secretEnv', 'secretHeaders'] as const;

/**
 * Seals every plain value of one secret map of job `jobId`; `field` names the map in the
 * seal's associated data (`secretEnv`, `secretHeaders`, `notify.0.secretHeaders`), so a
 * value opens only where it was sealed. Values sealed already (kept ones) stay as they are.
 */
export function sealSecretMap(key: SecretsKey, jobId: string, field: string, map: Readonly<Record<string, string>>): Record<string, string> {
  const sealed: Record<string, string> = {};
  for (const [name, value] of Object.entries(map)) sealed[name] = isSealed(value) ? value : sealSecret(key, value, secretContext(jobId, field, name));
  return sealed;
}

/**
 * Opens every sealed value of one secret map (see sealSecretMap), right before it is used.
 * Plain values (stored before the node had a key) pass as they are. Without a key, a sealed
 * value is SECRET_KEY_MISMATCH: the use must fail with that reason, never go on without it.
 * `label` names the map in messages (`executor.secretEnv`).
 */
export function openSecretMap(key: SecretsKey | null, jobId: string, field: string, map: Readonly<Record<string, string>>, label: string = field): { readonly ok: true; readonly map: Record<string, string> } | Refused<'SECRET_MALFORMED' | 'SECRET_KEY_MISMATCH' | 'SECRET_TAMPERED'> {
  const opened: Record<string, string> = {};
  for (const [name, value] of Object.entries(map)) {
    if (!isSealed(value)) {
      opened[name] = value;
      continue;
    }
    if (key === null) return refused('SECRET_KEY_MISMATCH', `${label}.${name} is sealed, but this node has no --secrets-key-file`);
    const result = openSecret(key, value, secretContext(jobId, field, name));
    if (!result.ok) return refused(result.code, `${label}.${name}: ${result.message}`);
    opened[name] = result.value;
  }
  return { ok: true, map: opened };
}

/**
 * Seals every plain value of an executor's secret maps (after mergeSecrets, so kept values
 * are already sealed and stay as they are). Called on the API node before proposing.
 */
export function sealExecutorSecrets<E extends SecretMaps>(key: SecretsKey, jobId: string, executor: E): E {
  let out: E = executor;
  for (const field of FIELDS) {
    const map = executor[field];
    if (map === undefined) continue;
    out = { ...out, [field]: sealSecretMap(key, jobId, field, map) };
  }
  return out;
}

/** openSecretMap for both maps of an executor, on the executing node right before the run. */
export function openExecutorSecrets<E extends SecretMaps>(key: SecretsKey | null, jobId: string, executor: E): { readonly ok: true; readonly executor: E } | Refused<'SECRET_MALFORMED' | 'SECRET_KEY_MISMATCH' | 'SECRET_TAMPERED'> {
  let out: E = executor;
  for (const field of FIELDS) {
    const map = executor[field];
    if (map === undefined) continue;
    const opened = openSecretMap(key, jobId, field, map, `executor.${field}`);
    if (!opened.ok) return opened;
    out = { ...out, [field]: opened.map };
  }
  return { ok: true, executor: out };
}

/** Where a notify target's secret headers are sealed: the target's place in the job's list. */
export function notifySecretField(index: number): string {
  return `notify.${index}.secretHeaders`;
}
