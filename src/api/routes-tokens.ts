// API tokens and the audit log (api.md, "Access control"): POST/GET/DELETE /v1/tokens and
// GET /v1/audit. A token's secret is in exactly one answer, the 201 of its creation; lists
// show views without hashes.
import { isTokenId, newTokenCommand, validateTokenRequest, type AuditEntry, type TokenView } from '../access/index.js';
import { ChimeError } from '../errors/index.js';
import { parseDurationMs } from '../statemachine/index.js';
import { pageParams, readBarrier } from './params.js';
import { sendJson } from './problem.js';
import type { JobService, ReadBarrier, TokenService } from './services.js';
import type { Route } from './server.js';

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** A token as the API shows it: no hash, no secret, times as ISO-8601 UTC. */
export function tokenApiView(token: TokenView): Record<string, unknown> {
  return { id: token.id, name: token.name, role: token.role, createdAt: iso(token.createdAt), expiresAt: iso(token.expiresAt), createdBy: token.createdBy };
}

function auditApiView(entry: AuditEntry): Record<string, unknown> {
  return { seq: entry.seq, at: iso(entry.at), actor: entry.actor, method: entry.method, path: entry.path, target: entry.target };
}

export function tokenRoutes(tokens: TokenService, jobs: JobService, barrier: ReadBarrier, nowMs: () => number): Route[] {
  return [
    {
      method: 'POST',
      path: '/v1/tokens',
      permission: 'tokens.admin',
      write: true,
      handle: async (ctx) => {
        const checked = validateTokenRequest(await ctx.body(), parseDurationMs);
        if (!checked.ok) throw new ChimeError(checked.code, checked.message, checked.errors === undefined ? {} : { errors: checked.errors });
        const { command, secret } = newTokenCommand(checked.request, ctx.principal.name, nowMs());
        const token = await tokens.create(command, ctx.audit(command.id));
        sendJson(ctx.res, 201, { ...tokenApiView(token), token: secret });
      },
    },
    {
      method: 'GET',
      path: '/v1/tokens',
      permission: 'tokens.admin',
      write: false,
      handle: async (ctx) => {
        const options = pageParams(ctx);
        await readBarrier(barrier, ctx);
        const page = jobs.table().listTokens(options);
        if (!page.ok) throw new ChimeError(page.code, page.message);
        sendJson(ctx.res, 200, { items: page.items.map(tokenApiView), nextCursor: page.nextCursor });
      },
    },
    {
      method: 'DELETE',
      path: '/v1/tokens/:id',
      permission: 'tokens.admin',
      write: true,
      handle: async (ctx) => {
        const id = ctx.params['id'] ?? '';
        if (!isTokenId(id)) throw new ChimeError('INVALID_REQUEST', 'the token id is invalid', { errors: [{ path: 'id', message: 'must be a token id as GET /v1/tokens lists it' }] });
        await tokens.revoke(id, ctx.audit(id));
        ctx.res.writeHead(204).end();
      },
    },
    {
      method: 'GET',
      path: '/v1/audit',
      permission: 'audit.read',
      write: false,
      handle: async (ctx) => {
        const options = pageParams(ctx);
        await readBarrier(barrier, ctx);
        const page = jobs.table().listAudit(options);
        if (!page.ok) throw new ChimeError(page.code, page.message);
        sendJson(ctx.res, 200, { items: page.items.map(auditApiView), nextCursor: page.nextCursor });
      },
    },
  ];
}
