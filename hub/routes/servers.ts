// Servers (enrolled agents): list, show, change settings, remove; and commands queued for an agent.
import { Hono, type Context } from 'hono';
import { and, eq, asc } from 'drizzle-orm';
import { ServerPatch, CommandCreate } from '../../shared/protocol/control';
import { conflict, notFound } from '../../shared/errors';
import { servers, commands } from '../db/schema';
import { requireAdmin, requireRead, apiAuth } from '../middleware/auth';
import { parseBody } from '../middleware/validate';
import type { HubEnv } from '../deps';
import { serverView } from '../servers/view';
import { findServer } from '../servers/lookup';
import { jobsUsingServer } from '../servers/usage';
import { queueCommand, commandView } from '../commands/queue';
import { deactivateServerLicences } from '../licensing/activation';

/** Target pause (manual): the target keeps receiving into its queue but applies nothing until resumed. */
async function setTargetPaused(c: Context<HubEnv>, paused: boolean) {
  const { db, clock, waker } = c.get('deps');
  const row = await findServer(db, apiAuth(c).orgId, c.req.param('id')!);
  const settings = { ...row.settings, targetPaused: paused };
  const [updated] = await db.update(servers).set({ settings }).where(eq(servers.id, row.id)).returning();
  waker.wake(row.id);
  return c.json(serverView(updated!, clock.now()));
}

export const serverRoutes = new Hono<HubEnv>()
  .get('/v1/servers', requireRead, async (c) => {
    const { db, clock } = c.get('deps');
    const rows = await db.select().from(servers).where(eq(servers.orgId, apiAuth(c).orgId)).orderBy(asc(servers.name));
    const now = clock.now();
    return c.json({ items: rows.map((r) => serverView(r, now)) });
  })
  .get('/v1/servers/:id', requireRead, async (c) => {
    const { db, clock } = c.get('deps');
    return c.json(serverView(await findServer(db, apiAuth(c).orgId, c.req.param('id')), clock.now()));
  })
  .patch('/v1/servers/:id', requireAdmin, async (c) => {
    const { db, clock } = c.get('deps');
    const body = await parseBody(c, ServerPatch);
    const row = await findServer(db, apiAuth(c).orgId, c.req.param('id'));
    if (body.name && body.name !== row.name) {
      const [clash] = await db.select({ id: servers.id }).from(servers).where(and(eq(servers.orgId, row.orgId), eq(servers.name, body.name)));
      if (clash) throw conflict('server_name_taken', `Another server is already named "${body.name}".`);
    }
    const settings = body.settings ? { ...row.settings, ...body.settings } : row.settings;
    const [updated] = await db.update(servers).set({ name: body.name ?? row.name, settings }).where(eq(servers.id, row.id)).returning();
    return c.json(serverView(updated!, clock.now()));
  })
  .delete('/v1/servers/:id', requireAdmin, async (c) => {
    const deps = c.get('deps');
    const row = await findServer(deps.db, apiAuth(c).orgId, c.req.param('id'));
    const jobs = await jobsUsingServer(deps, row.id);
    if (jobs.length) {
      throw conflict('server_in_use', `Server "${row.name}" is used by job(s) ${jobs.join(', ')}. Delete those jobs first.`, { jobs });
    }
    // Managed uninstall: ?deactivate=true frees the server's licences for other hosts (unlimited, unlike transfers).
    const deactivated = c.req.query('deactivate') === 'true' ? await deactivateServerLicences(deps, row.orgId, row.id) : [];
    await deps.db.batch([
      deps.db.delete(commands).where(eq(commands.serverId, row.id)),
      deps.db.delete(servers).where(eq(servers.id, row.id)),
    ]);
    return c.json({ deleted: row.id, deactivatedLicences: deactivated.map((d) => d.code) });
  })
  .post('/v1/servers/:id/target-pause', requireAdmin, async (c) => setTargetPaused(c, true))
  .post('/v1/servers/:id/target-resume', requireAdmin, async (c) => setTargetPaused(c, false))
  .post('/v1/servers/:id/commands', requireAdmin, async (c) => {
    const deps = c.get('deps');
    const body = await parseBody(c, CommandCreate);
    const row = await findServer(deps.db, apiAuth(c).orgId, c.req.param('id'));
    return c.json(commandView(await queueCommand(deps, row.orgId, row.id, body.kind, body.payload)), 201);
  })
  .get('/v1/commands/:id', requireRead, async (c) => {
    const { db } = c.get('deps');
    const id = c.req.param('id');
    const [row] = await db.select().from(commands).where(and(eq(commands.id, id), eq(commands.orgId, apiAuth(c).orgId)));
    if (!row) throw notFound('command', id);
    return c.json(commandView(row));
  });
