import { parseArgs } from 'node:util';
import { apiCaller } from './http-client.js';
import { table } from './table.js';
import { UsageError, serverUrl } from './usage.js';

export const CLUSTER_HELP = `usage: chime cluster <status|members|add|remove|transfer-leader> [flags]

  status                          leader, term, commit and applied index, and every member
  members                         the members table only
  add ID --rpc HOST:PORT [--http HOST:PORT]   add a node (learner first, voter once caught up)
  remove ID                       remove a member
  transfer-leader [--to ID]       hand leadership to ID (or the most up-to-date voter)

flags:
  --server URL   a node's API (default $CHIME_SERVER or http://127.0.0.1:8400)
  --json         machine-readable output
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

export async function clusterCommand(args: string[], out: (s: string) => void): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { server: { type: 'string' }, json: { type: 'boolean' }, rpc: { type: 'string' }, http: { type: 'string' }, to: { type: 'string' }, help: { type: 'boolean' } },
  });
  const [sub, id] = positionals;
  if (values.help === true || sub === undefined) {
    out(CLUSTER_HELP);
    if (sub === undefined && values.help !== true) throw new UsageError('cluster: missing subcommand (status, members, add, remove, transfer-leader)');
    return;
  }
  const base = serverUrl(values.server);
  const call = apiCaller(base);
  switch (sub) {
    case 'status':
    case 'members': {
      const body = (await call('GET', '/v1/cluster')).body as ClusterBody;
      if (values.json === true) return out(JSON.stringify(sub === 'status' ? body : body.members, null, 2) + '\n');
      if (sub === 'status') out(`node ${body.id}  leader ${body.leader ?? '-'}  term ${body.term}  commit ${body.commitIndex}  applied ${body.appliedIndex}\n\n`);
      out(table(['ID', 'ROLE', 'VOTER', 'RPC', 'HTTP', 'MATCH', 'LAST CONTACT'], body.members.map((m) => [m.id, m.role, m.voter ? 'yes' : 'no', m.rpc, m.http || '-', m.matchIndex, m.lastContactMs === null ? null : `${m.lastContactMs}ms`])));
      return;
    }
    case 'add': {
      if (id === undefined || values.rpc === undefined) throw new UsageError('cluster add: needs ID and --rpc HOST:PORT');
      const answer = await call('POST', '/v1/cluster/members', { id, rpc: values.rpc, ...(values.http === undefined ? {} : { http: values.http }) });
      return out(values.json === true ? JSON.stringify(answer.body) + '\n' : `added ${id} as a learner; it becomes a voter once caught up\n`);
    }
    case 'remove': {
      if (id === undefined) throw new UsageError('cluster remove: needs ID');
      await call('DELETE', `/v1/cluster/members/${encodeURIComponent(id)}`);
      return out(values.json === true ? JSON.stringify({ removed: id }) + '\n' : `removed ${id}\n`);
    }
    case 'transfer-leader': {
      const answer = await call('POST', '/v1/cluster/transfer-leader', values.to === undefined ? {} : { to: values.to });
      const body = answer.body as { from: string; to: string };
      return out(values.json === true ? JSON.stringify(body) + '\n' : `leadership moving from ${body.from} to ${body.to}\n`);
    }
    default:
      throw new UsageError(`cluster: unknown subcommand ${sub}`);
  }
}
