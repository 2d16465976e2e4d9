// Bearer authentication: API tokens (admin / monitor / issuer) for operators, agent credentials for agents.
import type { MiddlewareHandler } from 'hono';
import { eq } from 'drizzle-orm';
import { TandemError } from '../../shared/errors';
import { hashSecret } from '../../shared/tokens';
import { apiTokens, servers } from '../db/schema';
import type { AuthApi, HubEnv } from '../deps';

function bearer(header: string | undefined): string {
  const m = header?.match(/^Bearer\s+(\S+)$/i);
  if (!m) throw new TandemError('unauthorized', 'Missing bearer token: send Authorization: Bearer <token>.', 401);
  return m[1]!;
}

/** Requires an operator API token; write routes pass the roles allowed (admin always is). */
export function requireApi(...roles: AuthApi['role'][]): MiddlewareHandler<HubEnv> {
  return async (c, next) => {
    const { db, clock } = c.get('deps');
    const token = bearer(c.req.header('authorization'));
    const [row] = await db.select().from(apiTokens).where(eq(apiTokens.tokenHash, await hashSecret(token)));
    if (!row) throw new TandemError('unauthorized', 'The API token is not valid (revoked or mistyped).', 401);
    const allowed = roles.length === 0 || row.role === 'admin' || roles.includes(row.role);
    if (!allowed) {
      throw new TandemError('forbidden', `A ${row.role} token cannot do this; use an admin token.`, 403);
    }
    c.set('auth', { kind: 'api', tokenId: row.id, orgId: row.orgId, role: row.role });
    // Coarse last-used tracking: one write per minute per token at most.
    const now = clock.now();
    if (!row.lastUsedAt || now - row.lastUsedAt > 60_000) {
      await db.update(apiTokens).set({ lastUsedAt: now }).where(eq(apiTokens.id, row.id));
    }
    await next();
  };
}

/** Read routes: any operator role. */
export const requireRead = requireApi('admin', 'monitor', 'issuer');
/** Write routes: admin only. */
export const requireAdmin = requireApi('admin');

export const requireAgent: MiddlewareHandler<HubEnv> = async (c, next) => {
  const { db } = c.get('deps');
  const token = bearer(c.req.header('authorization'));
  const [row] = await db
    .select({ id: servers.id, orgId: servers.orgId })
    .from(servers)
    .where(eq(servers.credentialHash, await hashSecret(token)));
  if (!row) {
    throw new TandemError('agent_unknown', 'This agent credential is not known to the hub (server removed?). Re-enrol the agent with a new config token.', 401);
  }
  c.set('auth', { kind: 'agent', serverId: row.id, orgId: row.orgId });
  await next();
};

export function apiAuth(c: { get(k: 'auth'): unknown }): AuthApi {
  return c.get('auth') as AuthApi;
}
