import { parseFlags, suggestion } from './flags.js';
import { fieldsOf, flag, listOf, num, numOrNull, text, textOrNull } from './answers.js';
import { apiCaller } from './http-client.js';
import { document, formatDuration, outputOptions, OUTPUT_FLAGS, OUTPUT_HELP, table } from './output.js';
import { UsageError, serverList } from './usage.js';

export const CLUSTER_HELP = `usage: chime cluster <status|members|add|remove|promote|demote|transfer-leader> [flags]

  status                          leader, term, commit and applied index, and every member
  members                         the members table only
  add ID --rpc HOST:PORT [--http HOST:PORT] [--role worker]
                                  add a node (learner first, voter once caught up; a worker never votes)
  remove ID                       remove a member (a voter's id is then retired: a node that
                                  comes back joins under a new id)
  promote ID                      make a worker (or learner) a voter
  demote ID                       make a voter a non-voting worker (keep the voters an odd count)
  transfer-leader [--to ID]       hand leadership to ID (or the most up-to-date voter)

flags:
  --server URLS  nodes' APIs, comma-separated, tried in order (default $CHIME_SERVER, else the
                 chime dev cluster of this directory, else http://127.0.0.1:8400)
${OUTPUT_HELP}

A member the answering node has not heard from for 3 s shows as "unreachable".
`;

interface Member {
  id: string;
  rpc: string;
  http: string;
  role: string;
  voter: boolean;
  matchIndex: number | null;
  lastContactMs: number | null;
}
interface ClusterBody {
  id: string;
  leader: string | null;
  term: number;
  commitIndex: number;
  appliedIndex: number;
  members: Member[];
}

function readMember(value: unknown, what: string): Member {
  const o = fieldsOf(value, what);
  return {
    id: text(o, 'id', what), rpc: text(o, 'rpc', what), http: text(o, 'http', what), role: text(o, 'role', what), voter: flag(o, 'voter', what),
    matchIndex: numOrNull(o, 'matchIndex', what), lastContactMs: numOrNull(o, 'lastContactMs', what),
  };
}

/** The fields of the cluster answer that `status` and `members` show. */
function readCluster(o: { readonly [field: string]: unknown }): ClusterBody {
  return {
    id: text(o, 'id', 'cluster'), leader: textOrNull(o, 'leader', 'cluster'), term: num(o, 'term', 'cluster'), commitIndex: num(o, 'commitIndex', 'cluster'),
    appliedIndex: num(o, 'appliedIndex', 'cluster'), members: listOf(o, 'members', 'cluster', readMember),
  };
}

/** A peer silent for this long is shown as unreachable: every node says hello every second. */
const SILENT_MS = 3000;

/** The member's role, unless the answering node has not heard from it lately. */
function roleText(m: Member, answering: string): string {
  if (m.id === answering) return m.role;
  return m.lastContactMs === null || m.lastContactMs > SILENT_MS ? `unreachable (was ${m.role})` : m.role;
}

export async function clusterCommand(args: string[], out: (s: string) => void): Promise<void> {
  const { values, positionals } = parseFlags('cluster', args, { server: { type: 'string' }, ...OUTPUT_FLAGS, rpc: { type: 'string' }, http: { type: 'string' }, to: { type: 'string' }, role: { type: 'string' }, help: { type: 'boolean' } });
  const [sub, id] = positionals;
  if (values.help === true || sub === undefined) {
    out(CLUSTER_HELP);
    if (sub === undefined && values.help !== true) throw new UsageError('cluster: missing subcommand (status, members, add, remove, transfer-leader)');
    return;
  }
  const base = serverList(values.server);
  const call = apiCaller(base);
  switch (sub) {
    case 'status':
    case 'members': {
      const output = outputOptions(values);
      const raw = (await call('GET', '/v1/cluster')).body;
      const answer = fieldsOf(raw, 'cluster');
      const doc = document(sub === 'status' ? raw : answer['members'], output);
      if (doc !== null) return out(doc);
      const body = readCluster(answer);
      if (sub === 'status') out(`node ${body.id}  leader ${body.leader ?? 'none (no quorum?)'}  term ${body.term}  commit ${body.commitIndex}  applied ${body.appliedIndex}\n\n`);
      const wide = output.format === 'wide';
      out(table(['ID', 'ROLE', 'VOTER', 'HTTP', 'MATCH', 'LAST CONTACT', ...(wide ? ['RPC'] : [])], body.members.map((m) => [
        m.id, roleText(m, body.id), m.voter ? 'yes' : 'no', m.http || '-', m.matchIndex, m.lastContactMs === null ? null : formatDuration(m.lastContactMs), ...(wide ? [m.rpc] : []),
      ])));
      return;
    }
    case 'add': {
      if (id === undefined || values.rpc === undefined) throw new UsageError('cluster add: needs ID and --rpc HOST:PORT');
      if (values.role !== undefined && values.role !== 'voter' && values.role !== 'worker') throw new UsageError('cluster add: --role is voter or worker');
      const worker = values.role === 'worker';
      const answer = await call('POST', '/v1/cluster/members', { id, rpc: values.rpc, ...(values.http === undefined ? {} : { http: values.http }), ...(worker ? { role: 'worker' } : {}) });
      return out(values.json === true ? JSON.stringify(answer.body) + '\n' : worker ? `added ${id} as a worker; it executes runs and never votes\n` : `added ${id} as a learner; it becomes a voter once caught up\n`);
    }
    case 'promote':
    case 'demote': {
      if (id === undefined) throw new UsageError(`cluster ${sub}: needs ID`);
      const answer = await call('POST', '/v1/cluster/members', { id, role: sub === 'promote' ? 'voter' : 'worker' });
      return out(values.json === true ? JSON.stringify(answer.body) + '\n' : sub === 'promote' ? `${id} is now a voter\n` : `${id} is now a non-voting worker\n`);
    }
    case 'remove': {
      if (id === undefined) throw new UsageError('cluster remove: needs ID');
      await call('DELETE', `/v1/cluster/members/${encodeURIComponent(id)}`);
      return out(values.json === true ? JSON.stringify({ removed: id }) + '\n' : `removed ${id}\n`);
    }
    case 'transfer-leader': {
      const answer = await call('POST', '/v1/cluster/transfer-leader', values.to === undefined ? {} : { to: values.to });
      if (values.json === true) return out(JSON.stringify(answer.body) + '\n');
      const body = fieldsOf(answer.body, 'transfer');
      return out(`leadership moving from ${text(body, 'from', 'transfer')} to ${text(body, 'to', 'transfer')}\n`);
    }
    default:
      throw new UsageError(`cluster: unknown subcommand ${sub}${suggestion(sub, ['status', 'members', 'add', 'remove', 'promote', 'demote', 'transfer-leader'])}`);
  }
}
