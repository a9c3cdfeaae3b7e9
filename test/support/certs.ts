// A throwaway PKI for tests: a CA and one certificate per node, made with the `openssl`
// binary at test time so no key material is ever committed. ECDSA P-256 keys take a few
// milliseconds each; certificates live two days, long enough for any test run.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Pem {
  readonly cert: string;
  readonly key: string;
  readonly certPath: string;
  readonly keyPath: string;
}

export interface TestPki {
  readonly ca: Pem;
  /** One certificate per node id, each naming that node (`URI:chime-node:<id>`). */
  readonly nodes: Readonly<Record<string, Pem>>;
}

export interface IssueOptions {
  /** The node ids the certificate names; defaults to `[name]`. Empty: a certificate naming no node. */
  readonly nodeIds?: readonly string[];
}

const DAYS = '2';
const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

function openssl(args: readonly string[]): void {
  // stdio piped so openssl's chatter stays out of the test output; a failure throws with it.
  execFileSync('openssl', args, { stdio: 'pipe' });
}

function read(certPath: string, keyPath: string): Pem {
  return { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8'), certPath, keyPath };
}

/** A self-signed CA in `dir` (files `<name>-ca.crt`, `<name>-ca.key`). */
export function makeTestCa(dir: string, name = 'chime-test'): Pem {
  mkdirSync(dir, { recursive: true });
  const certPath = join(dir, `${name}-ca.crt`);
  const keyPath = join(dir, `${name}-ca.key`);
  openssl(['req', '-x509', ...EC_KEY, '-keyout', keyPath, '-out', certPath, '-days', DAYS, '-subj', `/CN=${name} CA`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  return read(certPath, keyPath);
}

/**
 * A certificate signed by `ca` for `name` (CN), usable as TLS server and client, with SANs
 * for loopback (IP:127.0.0.1, DNS:localhost) and `URI:chime-node:<id>` for each node id.
 */
export function issueCert(dir: string, ca: Pem, name: string, options: IssueOptions = {}): Pem {
  const certPath = join(dir, `${name}.crt`);
  const keyPath = join(dir, `${name}.key`);
  const csrPath = join(dir, `${name}.csr`);
  const extPath = join(dir, `${name}.ext`);
  const nodeSans = (options.nodeIds ?? [name]).map((id) => `URI:chime-node:${id}`);
  writeFileSync(extPath, [
    `subjectAltName=${['IP:127.0.0.1', 'DNS:localhost', ...nodeSans].join(',')}`,
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=serverAuth,clientAuth',
    '',
  ].join('\n'));
  openssl(['req', '-new', ...EC_KEY, '-keyout', keyPath, '-out', csrPath, '-subj', `/CN=${name}`]);
  // A random serial: two certificates from one CA must never share one.
  openssl(['x509', '-req', '-in', csrPath, '-CA', ca.certPath, '-CAkey', ca.keyPath, '-set_serial', `0x${randomBytes(16).toString('hex')}`,
    '-days', DAYS, '-extfile', extPath, '-out', certPath]);
  return read(certPath, keyPath);
}

/** A CA named `name` and one certificate per node id, all under `dir`. */
export function makeTestPki(dir: string, nodeIds: readonly string[], name = 'chime-test'): TestPki {
  const caDir = join(dir, name);
  const ca = makeTestCa(caDir, name);
  const nodes: Record<string, Pem> = {};
  for (const id of nodeIds) nodes[id] = issueCert(caDir, ca, id);
  return { ca, nodes };
}
