// Events: the stored event log of the org (GET /v1/events) and the event catalog.
import { Hono } from 'hono';
import { EVENT_CATALOG, eventByName } from '../../shared/events/catalog';
import { EventsQuery, parseSince, severitiesAtLeast } from '../../shared/events/api';
import { badRequest } from '../../shared/errors';
import { requireRead, apiAuth } from '../middleware/auth';
import { parseQuery } from '../middleware/validate';
import { documentRoutes } from '../openapi';
import type { HubEnv } from '../deps';
import { eventView, listEvents } from '../events/store';

documentRoutes([
  { method: 'get', path: '/v1/events', summary: 'List events (query: since=ISO|15m|2h|7d, severity=info|warning|error (at least), job, server, type=name,…, limit)', auth: 'read' },
  { method: 'get', path: '/v1/events/catalog', summary: 'Every event the product raises: id, name, severity, template, fields, manual equivalent', auth: 'read' },
]);

export const eventRoutes = new Hono<HubEnv>()
  .get('/v1/events/catalog', requireRead, (c) => c.json({ items: EVENT_CATALOG }))
  .get('/v1/events', requireRead, async (c) => {
    const { db, clock } = c.get('deps');
    const q = parseQuery(c, EventsQuery);
    const now = clock.now();
    const since = q.since === undefined ? undefined : parseSince(q.since, now);
    if (since === null) throw badRequest('invalid_since', `since="${q.since}" is not a time: use ISO-8601 (2025-01-31T12:00:00Z), epoch ms, or a span like 15m, 2h, 7d.`);
    const types = q.type?.split(',').map((s) => s.trim()).filter(Boolean);
    const unknown = types?.filter((t) => !eventByName(t));
    if (unknown?.length) throw badRequest('unknown_event_type', `Unknown event type(s): ${unknown.slice(0, 5).join(', ')}. See GET /v1/events/catalog.`);
    const rows = await listEvents(db, {
      orgId: apiAuth(c).orgId, since, severities: q.severity ? severitiesAtLeast(q.severity) : undefined,
      jobId: q.job, serverId: q.server, types, limit: q.limit,
    });
    return c.json({ items: rows.map(eventView), hubTime: new Date(now).toISOString() });
  });
