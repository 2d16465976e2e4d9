// Webhook endpoints of the org: CRUD (secrets write-only), a test action, the delivery log and manual replay.
import { Hono } from 'hono';
import { and, desc, eq, inArray } from 'drizzle-orm';
import { WebhookCreate, WebhookPatch } from '../../shared/events/api';
import { TandemError, badRequest, conflict, notFound } from '../../shared/errors';
import { randomId } from '../../shared/tokens';
import { events, webhookEndpoints, notificationDeliveries, notificationAttempts } from '../db/schema';
import { requireAdmin, requireRead, apiAuth } from '../middleware/auth';
import { parseBody } from '../middleware/validate';
import { documentRoutes } from '../openapi';
import type { HubDeps, HubEnv } from '../deps';
import { isValidWebhookSecret } from '../../shared/events/webhook-signing';
import { checkWebhookUrl } from '../notify/targets';
import { iso, isoOrNull } from './time';

documentRoutes([
  { method: 'post', path: '/v1/webhooks', summary: 'Add a webhook endpoint (secret is write-only)', auth: 'admin', body: WebhookCreate },
  { method: 'get', path: '/v1/webhooks', summary: 'List webhook endpoints', auth: 'read' },
  { method: 'get', path: '/v1/webhooks/{id}', summary: 'Show a webhook endpoint', auth: 'read' },
  { method: 'patch', path: '/v1/webhooks/{id}', summary: 'Change a webhook endpoint (enabled: true re-enables it)', auth: 'admin', body: WebhookPatch },
  { method: 'delete', path: '/v1/webhooks/{id}', summary: 'Remove a webhook endpoint', auth: 'admin' },
  { method: 'post', path: '/v1/webhooks/{id}/test', summary: 'Send a test event to the endpoint now and report the response', auth: 'admin' },
  { method: 'get', path: '/v1/webhooks/{id}/deliveries', summary: 'Delivery log of the endpoint, with every attempt and status code', auth: 'read' },
  { method: 'post', path: '/v1/webhooks/deliveries/{id}/replay', summary: 'Send a delivery again (restarts its retry schedule)', auth: 'admin' },
]);

type Endpoint = typeof webhookEndpoints.$inferSelect;
type Delivery = typeof notificationDeliveries.$inferSelect;

const view = (r: Endpoint) => ({
  id: r.id, name: r.name, url: r.url, format: r.format, filter: r.filter, enabled: r.enabled,
  disabledReason: r.disabledReason, secretSet: true, createdAt: iso(r.createdAt), updatedAt: iso(r.updatedAt),
});

const deliveryView = (d: Delivery, attempts: Array<typeof notificationAttempts.$inferSelect> = [], ev?: { name: string; message: string }) => ({
  id: d.id, eventId: d.eventId, event: ev ? { type: ev.name, message: ev.message } : undefined, endpointId: d.endpointId,
  channel: d.channel, status: d.status, attempts: d.attempts, lastStatusCode: d.lastStatusCode, lastError: d.lastError,
  nextAttemptAt: d.status === 'pending' ? iso(d.nextAttemptAt) : null, createdAt: iso(d.createdAt), completedAt: isoOrNull(d.completedAt),
  log: attempts.map((a) => ({ at: iso(a.at), ok: a.ok, statusCode: a.statusCode, error: a.error, durationMs: a.durationMs })),
});

function checkUrl(deps: HubDeps, url: string): void {
  const refused = checkWebhookUrl(url, deps.events.notify.policy);
  if (refused) throw badRequest('invalid_webhook_url', refused);
}

function checkSecret(secret: string): void {
  if (!isValidWebhookSecret(secret)) {
    throw badRequest('invalid_webhook_secret', 'The secret must be "whsec_" followed by base64 of 24–64 random bytes, e.g. whsec_$(openssl rand -base64 32). `tandem webhook add` makes one for you.');
  }
}

async function findEndpoint(deps: HubDeps, orgId: string, id: string): Promise<Endpoint> {
  const [row] = await deps.db.select().from(webhookEndpoints).where(and(eq(webhookEndpoints.id, id), eq(webhookEndpoints.orgId, orgId)));
  if (!row) throw notFound('webhook', id);
  return row;
}

export const webhookRoutes = new Hono<HubEnv>()
  .post('/v1/webhooks', requireAdmin, async (c) => {
    const deps = c.get('deps');
    const body = await parseBody(c, WebhookCreate);
    checkUrl(deps, body.url);
    checkSecret(body.secret);
    const now = deps.clock.now();
    const row: Endpoint = {
      id: randomId('whk'), orgId: apiAuth(c).orgId, name: body.name ?? null, url: body.url, secret: body.secret,
      format: body.format, filter: body.filter, enabled: body.enabled, disabledReason: null, createdAt: now, updatedAt: now,
    };
    await deps.db.insert(webhookEndpoints).values(row);
    deps.log.info({ endpointId: row.id, url: row.url, format: row.format }, 'webhook endpoint added');
    return c.json(view(row), 201);
  })
  .get('/v1/webhooks', requireRead, async (c) => {
    const { db } = c.get('deps');
    const rows = await db.select().from(webhookEndpoints).where(eq(webhookEndpoints.orgId, apiAuth(c).orgId)).orderBy(webhookEndpoints.createdAt);
    return c.json({ items: rows.map(view) });
  })
  .get('/v1/webhooks/:id', requireRead, async (c) => c.json(view(await findEndpoint(c.get('deps'), apiAuth(c).orgId, c.req.param('id')))))
  .patch('/v1/webhooks/:id', requireAdmin, async (c) => {
    const deps = c.get('deps');
    const body = await parseBody(c, WebhookPatch);
    const row = await findEndpoint(deps, apiAuth(c).orgId, c.req.param('id'));
    if (body.url !== undefined) checkUrl(deps, body.url);
    if (body.secret !== undefined) checkSecret(body.secret);
    const next: Endpoint = {
      ...row, ...Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined)),
      disabledReason: body.enabled === true ? null : row.disabledReason, updatedAt: deps.clock.now(),
    };
    if (body.enabled === false) next.disabledReason = 'disabled by an operator';
    await deps.db.update(webhookEndpoints).set(next).where(eq(webhookEndpoints.id, row.id));
    return c.json(view(next));
  })
  .delete('/v1/webhooks/:id', requireAdmin, async (c) => {
    const deps = c.get('deps');
    const row = await findEndpoint(deps, apiAuth(c).orgId, c.req.param('id'));
    await deps.db.update(notificationDeliveries).set({ status: 'failed', lastError: 'the endpoint was deleted', completedAt: deps.clock.now() })
      .where(and(eq(notificationDeliveries.endpointId, row.id), inArray(notificationDeliveries.status, ['pending'])));
    await deps.db.delete(webhookEndpoints).where(eq(webhookEndpoints.id, row.id));
    return c.json({ deleted: row.id });
  })
  .post('/v1/webhooks/:id/test', requireAdmin, async (c) => {
    const deps = c.get('deps');
    const orgId = apiAuth(c).orgId;
    const row = await findEndpoint(deps, orgId, c.req.param('id'));
    if (!row.enabled) throw conflict('webhook_disabled', `The endpoint is disabled (${row.disabledReason ?? 'by an operator'}); enable it with PATCH {"enabled": true} first.`);
    const stored = await deps.events.record({ event: 'notify.test', orgId, fields: { note: `test of webhook ${row.id}` } }, { endpointId: row.id });
    if (!stored) throw new TandemError('internal', 'The test event could not be stored.', 500);
    const [d] = await deps.db.select().from(notificationDeliveries).where(eq(notificationDeliveries.eventId, stored.event.id));
    const outcome = d ? await deps.events.notify.deliverNow(d.id) : null;
    return c.json({ eventId: stored.event.id, deliveryId: d?.id ?? null, ok: outcome?.ok ?? false, statusCode: outcome?.statusCode ?? null, error: outcome?.error ?? null, status: outcome?.status ?? 'pending' });
  })
  .get('/v1/webhooks/:id/deliveries', requireRead, async (c) => {
    const deps = c.get('deps');
    const row = await findEndpoint(deps, apiAuth(c).orgId, c.req.param('id'));
    const limit = Math.min(Math.max(Number(c.req.query('limit') ?? 50) || 50, 1), 500);
    const rows = await deps.db.select().from(notificationDeliveries).where(eq(notificationDeliveries.endpointId, row.id))
      .orderBy(desc(notificationDeliveries.createdAt)).limit(limit);
    const ids = rows.map((r) => r.id);
    const attempts = ids.length ? await deps.db.select().from(notificationAttempts).where(inArray(notificationAttempts.deliveryId, ids)).orderBy(notificationAttempts.at) : [];
    const evs = rows.length ? await deps.db.select({ id: events.id, name: events.name, message: events.message }).from(events).where(inArray(events.id, rows.map((r) => r.eventId))) : [];
    const evById = new Map(evs.map((e) => [e.id, e]));
    return c.json({ items: rows.map((d) => deliveryView(d, attempts.filter((a) => a.deliveryId === d.id), evById.get(d.eventId))) });
  })
  .post('/v1/webhooks/deliveries/:id/replay', requireAdmin, async (c) => {
    const deps = c.get('deps');
    const orgId = apiAuth(c).orgId;
    const id = c.req.param('id');
    const [d] = await deps.db.select().from(notificationDeliveries).where(and(eq(notificationDeliveries.id, id), eq(notificationDeliveries.orgId, orgId)));
    if (!d || d.channel !== 'webhook') throw notFound('webhook delivery', id);
    const endpoint = await findEndpoint(deps, orgId, d.endpointId ?? '');
    if (!endpoint.enabled) throw conflict('webhook_disabled', `The endpoint is disabled (${endpoint.disabledReason ?? 'by an operator'}); enable it with PATCH {"enabled": true} before replaying.`);
    if (d.status === 'sending') throw conflict('delivery_in_progress', 'This delivery is being sent right now; replay it after the attempt finishes.');
    const now = deps.clock.now();
    const [updated] = await deps.db.update(notificationDeliveries).set({ status: 'pending', attempts: 0, nextAttemptAt: now, completedAt: null, leaseUntil: null })
      .where(eq(notificationDeliveries.id, d.id)).returning();
    deps.events.notify.kick();
    return c.json(deliveryView(updated!), 202);
  });
