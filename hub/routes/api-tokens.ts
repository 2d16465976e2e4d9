// Operator API tokens: create (shown once), list, delete. Stored as SHA-256 hashes.
import { Hono } from 'hono';
import { and, eq } from 'drizzle-orm';
import { ApiTokenCreate } from '../../shared/protocol/control';
import { notFound, conflict } from '../../shared/errors';
import { randomId, randomSecret, hashSecret } from '../../shared/tokens';
import { apiTokens } from '../db/schema';
import { requireAdmin, apiAuth } from '../middleware/auth';
import { parseBody } from '../middleware/validate';
import type { HubEnv } from '../deps';
import { iso, isoOrNull } from './time';

const view = (r: typeof apiTokens.$inferSelect) => ({
  id: r.id, name: r.name, role: r.role, createdAt: iso(r.createdAt), lastUsedAt: isoOrNull(r.lastUsedAt),
});

export const apiTokenRoutes = new Hono<HubEnv>()
  .use('/v1/api-tokens', requireAdmin)
  .use('/v1/api-tokens/*', requireAdmin)
  .post('/v1/api-tokens', async (c) => {
    const { db, clock } = c.get('deps');
    const auth = apiAuth(c);
    const body = await parseBody(c, ApiTokenCreate);
    const token = randomSecret('tnd_api');
    const row = {
      id: randomId('tok'), orgId: auth.orgId, name: body.name, role: body.role,
      tokenHash: await hashSecret(token), createdAt: clock.now(), lastUsedAt: null,
    };
    await db.insert(apiTokens).values(row);
    return c.json({ ...view(row), token }, 201);
  })
  .get('/v1/api-tokens', async (c) => {
    const { db } = c.get('deps');
    const rows = await db.select().from(apiTokens).where(eq(apiTokens.orgId, apiAuth(c).orgId));
    return c.json({ items: rows.map(view) });
  })
  .delete('/v1/api-tokens/:id', async (c) => {
    const { db } = c.get('deps');
    const auth = apiAuth(c);
    const id = c.req.param('id');
    if (id === auth.tokenId) throw conflict('token_in_use', 'You cannot delete the token this request is using; use another admin token.');
    const res = await db.delete(apiTokens).where(and(eq(apiTokens.id, id), eq(apiTokens.orgId, auth.orgId))).returning();
    if (res.length === 0) throw notFound('API token', id);
    return c.json({ deleted: id });
  });
