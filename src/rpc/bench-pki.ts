// Certificates for the rpc bench, made in-process. The bench runs from src/rpc, which may not
// start processes, so it cannot call `openssl` as the tests do (test/support/certs.ts); this
// is the smallest X.509 v3 writer that node:tls accepts: ECDSA P-256, SHA-256, a CA and
// leaves naming one node each. Never used by the transport itself.
import { Buffer } from 'node:buffer';
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { NODE_ID_URI_SCHEME } from './peer-tls.js';

export interface BenchPem {
  readonly cert: string;
  readonly key: string;
}

/** One DER element: tag, definite length, contents. */
function der(tag: number, ...parts: Uint8Array[]): Buffer {
  const body = Buffer.concat(parts);
  const length = body.length < 0x80 ? Buffer.from([body.length]) : lengthBytes(body.length);
  return Buffer.concat([Buffer.from([tag]), length, body]);
}

function lengthBytes(n: number): Buffer {
  const bytes: number[] = [];
  for (let rest = n; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

const sequence = (...parts: Uint8Array[]): Buffer => der(0x30, ...parts);
const octets = (bytes: Uint8Array): Buffer => der(0x04, bytes);
const bool = (value: boolean): Buffer => der(0x01, Buffer.from([value ? 0xff : 0]));
const utf8 = (text: string): Buffer => der(0x0c, Buffer.from(text));

function oid(text: string): Buffer {
  const [first = 0, second = 0, ...rest] = text.split('.').map(Number);
  const bytes = [40 * first + second];
  for (const arc of rest) {
    const groups: number[] = [];
    for (let v = arc; groups.length === 0 || v > 0; v = Math.floor(v / 128)) groups.unshift(v % 128);
    bytes.push(...groups.map((g, i) => (i < groups.length - 1 ? g | 0x80 : g)));
  }
  return der(0x06, Buffer.from(bytes));
}

/**
 * A non-negative INTEGER from big-endian bytes. DER wants the shortest form: leading zero
 * bytes go (OpenSSL refuses them as "illegal padding"; a random serial starts with one in
 * 1 of 256 certificates), and one zero comes back only to keep the sign bit clear.
 */
export function derInteger(bytes: Uint8Array): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const minimal = bytes.subarray(start);
  const head = minimal[0] ?? 0;
  return der(0x02, head & 0x80 || minimal.length === 0 ? Buffer.concat([Buffer.from([0]), minimal]) : minimal);
}

function utcTime(at: Date): Buffer {
  const two = (n: number): string => String(n).padStart(2, '0');
  const text = `${two(at.getUTCFullYear() % 100)}${two(at.getUTCMonth() + 1)}${two(at.getUTCDate())}${two(at.getUTCHours())}${two(at.getUTCMinutes())}${two(at.getUTCSeconds())}Z`;
  return der(0x17, Buffer.from(text));
}

const name = (commonName: string): Buffer => sequence(der(0x31, sequence(oid('2.5.4.3'), utf8(commonName))));
const ECDSA_WITH_SHA256 = sequence(oid('1.2.840.10045.4.3.2'));

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return sequence(oid(id), ...(critical ? [bool(true)] : []), octets(value));
}

interface Issuer {
  readonly commonName: string;
  readonly key: KeyObject;
  readonly keyId: Buffer;
}

/** An identifier for a public key (strict verifiers want them to link a chain). */
function keyId(publicKey: KeyObject): Buffer {
  return createHash('sha1').update(publicKey.export({ type: 'spki', format: 'der' })).digest();
}

/** Subject and authority key identifiers. */
function keyIds(subject: KeyObject, issuer: Issuer): Buffer[] {
  return [extension('2.5.29.14', false, octets(keyId(subject))), extension('2.5.29.35', false, sequence(der(0x80, issuer.keyId)))];
}

function certificate(subject: string, publicKey: KeyObject, issuer: Issuer, extensions: Buffer[]): string {
  const now = Date.now();
  const tbs = sequence(
    der(0xa0, derInteger(Buffer.from([2]))),
    derInteger(randomBytes(16)),
    ECDSA_WITH_SHA256,
    name(issuer.commonName),
    sequence(utcTime(new Date(now - 60_000)), utcTime(new Date(now + 86_400_000))),
    name(subject),
    publicKey.export({ type: 'spki', format: 'der' }),
    der(0xa3, sequence(...extensions)),
  );
  const signature = sign('sha256', tbs, issuer.key);
  const body = sequence(tbs, ECDSA_WITH_SHA256, der(0x03, Buffer.from([0]), signature)).toString('base64');
  return `-----BEGIN CERTIFICATE-----\n${body.replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE-----\n`;
}

/** A CA and, for each node id, a certificate naming it (and 127.0.0.1, localhost). */
export function makeBenchPki(nodeIds: readonly string[]): { ca: BenchPem; nodes: Record<string, BenchPem> } {
  const caKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const issuer: Issuer = { commonName: 'chime bench CA', key: caKeys.privateKey, keyId: keyId(caKeys.publicKey) };
  const caCert = certificate(issuer.commonName, caKeys.publicKey, issuer, [
    ...keyIds(caKeys.publicKey, issuer),
    extension('2.5.29.19', true, sequence(bool(true))),
    extension('2.5.29.15', true, der(0x03, Buffer.from([1, 0x06]))),
  ]);
  const pem = (key: KeyObject): string => key.export({ type: 'pkcs8', format: 'pem' }).toString();
  const nodes: Record<string, BenchPem> = {};
  for (const id of nodeIds) {
    const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const san = sequence(der(0x86, Buffer.from(`${NODE_ID_URI_SCHEME}${id}`)), der(0x87, Buffer.from([127, 0, 0, 1])), der(0x82, Buffer.from('localhost')));
    nodes[id] = {
      cert: certificate(id, keys.publicKey, issuer, [
        ...keyIds(keys.publicKey, issuer),
        extension('2.5.29.19', true, sequence()),
        extension('2.5.29.15', true, der(0x03, Buffer.from([7, 0x80]))),
        extension('2.5.29.37', false, sequence(oid('1.3.6.1.5.5.7.3.1'), oid('1.3.6.1.5.5.7.3.2'))),
        extension('2.5.29.17', false, san),
      ]),
      key: pem(keys.privateKey),
    };
  }
  return { ca: { cert: caCert, key: pem(caKeys.privateKey) }, nodes };
}
