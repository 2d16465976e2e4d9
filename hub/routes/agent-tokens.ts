// Agent config tokens: hub-signed JWTs an operator pastes onto a new host so its agent can enrol.
import { Hono } from 'hono';
import { and, eq } from 'drizzle-orm';
import { AgentTokenCreate } from '../../shared/protocol/control';
import { notFound } from '../../shared/errors';
import { randomId, signHubJwt } from '../../shared/tokens';
import { agentTokens } from '../db/schema';
import { requireAdmin, requireRead, apiAuth } from '../middleware/auth';
import { parseBody } from '../middleware/validate';
import type { HubEnv } from '../deps';
import { iso } from './time';

const view = (r: typeof agentTokens.$inferSelect) => ({
  id: r.id, name: r.name, expiresAt: iso(r.expiresAt), maxUses: r.maxUses, uses: r.uses,
  remainingUses: r.maxUses == null ? null : Math.max(0, r.maxUses - r.uses), revoked: r.revokedAt != null,
  createdAt: iso(r.createdAt),
});

export const agentTokenRoutes = new Hono<HubEnv>()
  .post('/v1/agent-tokens', requireAdmin, async (c) => {
    const { db, clock, keys, config } = c.get('deps');
    const auth = apiAuth(c);
    const body = await parseBody(c, AgentTokenCreate);
    const now = clock.now();
    const row = {
      id: randomId('atk'), orgId: auth.orgId, name: body.name ?? null, expiresAt: now + body.expiresInSec * 1000,
      maxUses: body.maxUses ?? null, uses: 0, defaults: body.defaults ?? null, createdAt: now, revokedAt: null,
    };
    const hubUrl = config.publicUrl ?? new URL(c.req.url).origin;
    const token = await signHubJwt(
      keys.current(), 'agent-config',
      { sub: row.id, org: row.orgId, hub: hubUrl, maxUses: row.maxUses, defaults: row.defaults },
      Math.floor(row.expiresAt / 1000),
    );
    await db.insert(agentTokens).values(row);
    return c.json({ ...view(row), token }, 201);
  })
  .get('/v1/agent-tokens', requireRead, async (c) => {
    const { db } = c.get('deps');
    const rows = await db.select().from(agentTokens).where(eq(agentTokens.orgId, apiAuth(c).orgId));
    return c.json({ items: rows.map(view) });
  })
  .delete('/v1/agent-tokens/:id', requireAdmin, async (c) => {
    const { db, clock } = c.get('deps');
    const id = c.req.param('id');
    const res = await db.update(agentTokens).set({ revokedAt: clock.now() })
      .where(and(eq(agentTokens.id, id), eq(agentTokens.orgId, apiAuth(c).orgId))).returning();
    if (res.length === 0) throw notFound('agent token', id);
    return c.json({ revoked: id });
  });
