// Organizations (vendor level) and the activation portal's users (per org).
import { Hono, type MiddlewareHandler } from 'hono';
import { and, eq } from 'drizzle-orm';
import { TandemError, conflict, notFound } from '../../shared/errors';
import { OrgCreate, PortalUserCreate } from '../../shared/licensing/api';
import { hashSecret, randomId, randomSecret } from '../../shared/tokens';
import { DEFAULT_ORG } from '../bootstrap';
import { apiTokens, orgs, portalUsers } from '../db/schema';
import { apiAuth, requireAdmin, requireApi } from '../middleware/auth';
import { parseBody } from '../middleware/validate';
import type { HubEnv } from '../deps';
import { documentRoutes } from '../openapi';
import { pbkdf2Hasher } from '../portal/password';
import { iso, isoOrNull } from './time';

/** The vendor organization: the default org's issuer (and admin) tokens act for the vendor across orgs. */
export const VENDOR_ORG = DEFAULT_ORG;

/** Vendor-level routes: an issuer or admin token of the vendor org; any other org's token is refused. */
export const requireVendor: MiddlewareHandler<HubEnv> = async (c, next) => {
  await requireApi('issuer')(c, async () => {
    const auth = apiAuth(c);
    if (auth.orgId !== VENDOR_ORG || (auth.role !== 'issuer' && auth.role !== 'admin')) {
      throw new TandemError('issuer_only', 'Only the vendor\'s issuer token can do this (organizations and licence codes are created by the vendor).', 403);
    }
    await next();
  });
};

const userView = (u: typeof portalUsers.$inferSelect) => ({
  id: u.id, orgId: u.orgId, email: u.email, name: u.name, createdAt: iso(u.createdAt), lastLoginAt: isoOrNull(u.lastLoginAt),
});

export const orgRoutes = new Hono<HubEnv>()
  .post('/v1/orgs', requireVendor, async (c) => {
    const { db, clock } = c.get('deps');
    const body = await parseBody(c, OrgCreate);
    const [clash] = await db.select().from(orgs).where(eq(orgs.name, body.name));
    if (clash) throw conflict('org_name_taken', `An organization named "${body.name}" exists already (${clash.id}).`);
    const now = clock.now();
    const org = { id: randomId('org'), name: body.name, createdAt: now };
    const token = randomSecret('tnd_api');
    await db.batch([
      db.insert(orgs).values(org),
      db.insert(apiTokens).values({ id: randomId('tok'), orgId: org.id, name: `admin of ${body.name}`, role: 'admin', tokenHash: await hashSecret(token), createdAt: now, lastUsedAt: null }),
    ]);
    return c.json({ id: org.id, name: org.name, createdAt: iso(now), adminToken: token }, 201);
  })
  .get('/v1/orgs', requireVendor, async (c) => {
    const rows = await c.get('deps').db.select().from(orgs);
    return c.json({ items: rows.map((o) => ({ id: o.id, name: o.name, createdAt: iso(o.createdAt) })) });
  })
  .post('/v1/portal-users', requireAdmin, async (c) => {
    const deps = c.get('deps');
    const auth = apiAuth(c);
    const body = await parseBody(c, PortalUserCreate);
    const orgId = body.orgId ?? auth.orgId;
    if (orgId !== auth.orgId && auth.orgId !== VENDOR_ORG) {
      throw new TandemError('forbidden', 'An organization admin can only create portal users of its own organization.', 403);
    }
    const [org] = await deps.db.select().from(orgs).where(eq(orgs.id, orgId));
    if (!org) throw notFound('organization', orgId);
    const email = body.email.toLowerCase();
    const [clash] = await deps.db.select({ id: portalUsers.id }).from(portalUsers).where(eq(portalUsers.email, email));
    if (clash) throw conflict('portal_user_exists', `A portal user ${email} exists already.`);
    const hasher = deps.passwordHasher ?? pbkdf2Hasher();
    const row = { id: randomId('usr'), orgId, email, name: body.name ?? null, passwordHash: await hasher.hash(body.password), createdAt: deps.clock.now(), lastLoginAt: null };
    await deps.db.insert(portalUsers).values(row);
    return c.json(userView(row), 201);
  })
  .get('/v1/portal-users', requireAdmin, async (c) => {
    const rows = await c.get('deps').db.select().from(portalUsers).where(eq(portalUsers.orgId, apiAuth(c).orgId));
    return c.json({ items: rows.map(userView) });
  })
  .delete('/v1/portal-users/:id', requireAdmin, async (c) => {
    const id = c.req.param('id');
    const res = await c.get('deps').db.delete(portalUsers).where(and(eq(portalUsers.id, id), eq(portalUsers.orgId, apiAuth(c).orgId))).returning();
    if (!res.length) throw notFound('portal user', id);
    return c.json({ deleted: id });
  });

documentRoutes([
  { method: 'post', path: '/v1/orgs', summary: 'Create an organization and its first admin token (vendor)', auth: 'issuer', body: OrgCreate },
  { method: 'get', path: '/v1/orgs', summary: 'List organizations (vendor)', auth: 'issuer' },
  { method: 'post', path: '/v1/portal-users', summary: 'Create an activation portal user', auth: 'admin', body: PortalUserCreate },
  { method: 'get', path: '/v1/portal-users', summary: 'List portal users of the org', auth: 'admin' },
  { method: 'delete', path: '/v1/portal-users/{id}', summary: 'Delete a portal user', auth: 'admin' },
]);
