import type { Buffer } from 'node:buffer';
import { constants, X509Certificate } from 'node:crypto';
import { createSecureContext, type PeerCertificate, type SecureContext, type SecureContextOptions } from 'node:tls';
import type { NodeId } from '../raft/index.js';
import { isNodeId } from './envelope.js';

/** PEM material for mutual TLS between peers: this node's certificate and key, and the CA. */
export interface PeerTlsOptions {
  readonly cert: Buffer | string;
  readonly key: Buffer | string;
  /** The only trust anchor(s) for peers (one or more PEM certificates); never the system store. */
  readonly ca: Buffer | string;
}

/** A certificate names node `id` with the subjectAltName `URI:chime-node:<id>`. */
export const NODE_ID_URI_SCHEME = 'chime-node:';
const SAN_URI_PREFIX = `URI:${NODE_ID_URI_SCHEME}`;

// TLS 1.3 suites, and for TLS 1.2 only ECDHE key exchange with AEAD ciphers: every peer is
// chime, so nothing old needs to be spoken, and each session has forward secrecy.
const CIPHERS = [
  'TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** A checked set of credentials: the options a TLS server takes and the dialer's context. */
export interface PreparedTls {
  readonly contextOptions: SecureContextOptions;
  readonly context: SecureContext;
  /** SHA-256 fingerprint of this node's certificate, for logs (public, not a secret). */
  readonly fingerprint: string;
  readonly validTo: string;
}

/**
 * Checks `tls` for node `self` and builds its secure context, or throws an Error saying what
 * is wrong (the agent reports it at startup or on reload, and keeps the old context then).
 * The certificate must name `self`, since peers refuse a certificate that does not name the
 * node it claims to be; the key must match it (createSecureContext checks that).
 */
export function prepareTls(tls: PeerTlsOptions, self: NodeId): PreparedTls {
  const own = parseCertificate(tls.cert, 'peer certificate');
  parseCertificate(tls.ca, 'peer CA');
  const named = certificateNodeIds(own.subjectAltName);
  if (!named.includes(self)) {
    throw new Error(`peer certificate does not name node ${self}: it needs the subjectAltName ${SAN_URI_PREFIX}${self} (it names ${named.length === 0 ? 'no node' : named.join(', ')})`);
  }
  if (Date.parse(own.validTo) <= Date.now()) throw new Error(`peer certificate expired at ${own.validTo}`);
  const contextOptions: SecureContextOptions = {
    cert: tls.cert,
    key: tls.key,
    ca: tls.ca,
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.3',
    ciphers: CIPHERS,
    // No session tickets: a resumed session skips certificate verification, so a peer whose
    // certificate expired, or whose CA was replaced by a reload, could come back with one.
    secureOptions: constants.SSL_OP_NO_TICKET,
  };
  let context: SecureContext;
  try {
    context = createSecureContext(contextOptions);
  } catch (error) {
    throw new Error(`peer TLS key, certificate or CA unusable: ${error instanceof Error ? error.message : String(error)}`);
  }
  return { contextOptions, context, fingerprint: own.fingerprint256, validTo: own.validTo };
}

function parseCertificate(pem: Buffer | string, what: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (error) {
    throw new Error(`${what} is not a PEM certificate: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * The node ids a certificate names, from Node's rendering of its subjectAltName
 * (`DNS:localhost, IP Address:127.0.0.1, URI:chime-node:n1`). Node quotes any value that
 * holds a comma or a quote (`URI:"a, b"`), so splitting on ", " cannot be fooled into
 * reading a name out of the middle of another; a quoted entry never matches, and node ids
 * contain neither. The input is bounded by the certificate, which OpenSSL caps in size.
 */
export function certificateNodeIds(subjectAltName: string | undefined): NodeId[] {
  if (subjectAltName === undefined) return [];
  const ids: NodeId[] = [];
  for (const entry of subjectAltName.split(', ')) {
    if (!entry.startsWith(SAN_URI_PREFIX)) continue;
    const id = entry.slice(SAN_URI_PREFIX.length);
    if (isNodeId(id) && !ids.includes(id)) ids.push(id);
  }
  return ids;
}

/** A refusal for a peer certificate that does not name the node it should. */
export function identityMismatch(named: readonly NodeId[], claimed: NodeId): string {
  return `certificate names ${named.length === 0 ? 'no node' : named.join(', ')}, not ${claimed}`;
}

/**
 * The dialer's check of the listener's certificate, run by node:tls inside the handshake
 * in place of the host-name check: peers are authenticated by node id, not by address
 * (addresses change, proxies sit in between), so the certificate must name the node dialed.
 */
export function serverIdentityCheck(expected: NodeId): (host: string, cert: PeerCertificate) => Error | undefined {
  return (_host, cert) => {
    const named = certificateNodeIds(cert.subjectaltname);
    if (named.includes(expected)) return undefined;
    return Object.assign(new Error(identityMismatch(named, expected)), { code: 'ERR_CHIME_PEER_IDENTITY' });
  };
}
