// `chime token create|list|revoke`: the API tokens of a cluster (admin role). A token's
// secret is printed once, by create; nothing else ever shows it.
import { fieldsOf, listOf, text, textOrNull } from './answers.js';
import { parseFlags } from './flags.js';
import { apiCaller } from './http-client.js';
import { document, formatTime, outputOptions, OUTPUT_FLAGS, OUTPUT_HELP, table } from './output.js';
import { UsageError, serverList } from './usage.js';

export const TOKEN_HELP = `usage: chime token <create|list|revoke> [flags]

  create --role ROLE [--name NAME] [--ttl DURATION]
                       a new token (ROLE: admin, operator, viewer or worker; TTL such as 30m,
                       24h; none: no expiry). The token is printed once: keep it.
  list                 every token (id, name, role, created, expires), never a secret
  revoke ID            the token stops working on every node once the revoke is committed

flags:
  --server URLS  nodes' APIs, comma-separated, tried in order (default $CHIME_SERVER, else the
                 chime dev cluster of this directory, else http://127.0.0.1:8400)
${OUTPUT_HELP}`;

interface TokenRow {
  id: string;
  name: string;
  role: string;
  createdAt: string;
  expiresAt: string | null;
  createdBy: string;
}

function readToken(value: unknown, what: string): TokenRow {
  const o = fieldsOf(value, what);
  return {
    id: text(o, 'id', what), name: text(o, 'name', what), role: text(o, 'role', what), createdAt: text(o, 'createdAt', what),
    expiresAt: textOrNull(o, 'expiresAt', what), createdBy: text(o, 'createdBy', what),
  };
}

const LIST_PAGES_MAX = 100;

export async function tokenCommand(args: string[], out: (s: string) => void): Promise<void> {
  const { values, positionals } = parseFlags('token', args, { server: { type: 'string' }, ...OUTPUT_FLAGS, role: { type: 'string' }, name: { type: 'string' }, ttl: { type: 'string' }, help: { type: 'boolean' } });
  const [sub, id] = positionals;
  if (values.help === true || sub === undefined) {
    out(TOKEN_HELP);
    if (sub === undefined && values.help !== true) throw new UsageError('token: missing subcommand (create, list, revoke)');
    return;
  }
  const call = apiCaller(serverList(values.server));
  const options = outputOptions(values);
  switch (sub) {
    case 'create': {
      if (values.role === undefined) throw new UsageError('token create: --role is required (admin, operator, viewer or worker)');
      const name = values.name ?? `${values.role}-${Date.now().toString(36)}`;
      const answer = await call('POST', '/v1/tokens', { name, role: values.role, ...(values.ttl === undefined ? {} : { ttl: values.ttl }) });
      const doc = document(answer.body, options);
      if (doc !== null) return out(doc);
      const o = fieldsOf(answer.body, 'token');
      const made = readToken(answer.body, 'token');
      out(`${text(o, 'token', 'token')}\n`);
      process.stderr.write(`token ${made.id} (${made.name}, ${made.role}${made.expiresAt === null ? '' : `, expires ${formatTime(made.expiresAt, options.utc)}`}) created; the line above is its secret, shown only now\n`);
      return;
    }
    case 'list': {
      const items: TokenRow[] = [];
      let cursor: string | null = null;
      for (let page = 0; page < LIST_PAGES_MAX; page++) {
        const answer = await call('GET', `/v1/tokens?limit=1000${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`);
        const o = fieldsOf(answer.body, 'tokens');
        items.push(...listOf(o, 'items', 'tokens', readToken));
        cursor = textOrNull(o, 'nextCursor', 'tokens');
        if (cursor === null) break;
      }
      const doc = document({ items }, options);
      if (doc !== null) return out(doc);
      out(table(['ID', 'NAME', 'ROLE', 'CREATED', 'EXPIRES', 'BY'], items.map((t) => [t.id, t.name, t.role, formatTime(t.createdAt, options.utc), t.expiresAt === null ? 'never' : formatTime(t.expiresAt, options.utc), t.createdBy])));
      return;
    }
    case 'revoke': {
      if (id === undefined) throw new UsageError('token revoke: which token? (chime token revoke ID; chime token list shows ids)');
      await call('DELETE', `/v1/tokens/${encodeURIComponent(id)}`);
      out(`token ${id} revoked\n`);
      return;
    }
    default:
      throw new UsageError(`token: unknown subcommand "${sub}" (create, list, revoke)`);
  }
}
