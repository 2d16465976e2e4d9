// Storing events (with dedup), enqueueing their deliveries, listing them and pruning them past retention.
import { and, desc, eq, gte, lt, inArray, or, type SQL } from 'drizzle-orm';
import { eventByName, type EventDef, type Severity } from '../../shared/events/catalog';
import type { EventView, RaiseInput } from '../../shared/events/types';
import { randomId } from '../../shared/tokens';
import type { Db } from '../db/types';
import { events, emailSettings, webhookEndpoints, notificationDeliveries, notificationAttempts } from '../db/schema';
import { planDeliveries } from '../notify/plan';
import { boundFields, decideDedup, dedupKey, renderMessage } from './dedup';

export type EventRow = typeof events.$inferSelect;

let idSeq = 0;
/** Time-ordered ids (`evt_<ms><seq><random>`), so events raised in the same millisecond keep their order. */
export function newEventId(now: number): string {
  idSeq = (idSeq + 1) % 36 ** 4;
  return `evt_${now.toString(36).padStart(9, '0')}${idSeq.toString(36).padStart(4, '0')}${randomId('').slice(-6)}`;
}

export interface StoreResult {
  event: EventRow;
  collapsed: boolean;
  deliveries: number;
}

/** Stores one event; a repeat within the dedup window only bumps the count of the first. */
export async function storeEvent(db: Db, input: RaiseInput, def: EventDef, now: number, windowMs: number, only?: { endpointId: string }): Promise<StoreResult> {
  const fields = boundFields(input.fields);
  const jobId = input.jobId ?? null;
  const serverId = input.serverId ?? null;
  const key = dedupKey(def, jobId, serverId, fields);
  const [latest] = await db.select({ id: events.id, name: events.name, firstAt: events.firstAt, count: events.count })
    .from(events).where(and(eq(events.orgId, input.orgId), eq(events.dedupKey, key)))
    .orderBy(desc(events.firstAt)).limit(1);
  const decision = only ? { kind: 'new' as const } : decideDedup(latest, def.name, now, windowMs);
  if (decision.kind === 'collapse') {
    const [row] = await db.update(events).set({ count: (latest!.count ?? 1) + 1, lastAt: now, fields })
      .where(eq(events.id, decision.id)).returning();
    return { event: row!, collapsed: true, deliveries: 0 };
  }
  const row: EventRow = {
    id: newEventId(now), orgId: input.orgId, typeId: def.id, name: def.name, severity: def.severity,
    message: renderMessage(def.template, fields, jobId, serverId), fields, jobId, serverId, dedupKey: key,
    resolves: def.resolves ?? null, count: 1, firstAt: now, lastAt: now,
  };
  await db.insert(events).values(row);
  const deliveries = await enqueueDeliveries(db, row, def, now, only);
  return { event: row, collapsed: false, deliveries };
}

async function enqueueDeliveries(db: Db, ev: EventRow, def: EventDef, now: number, only?: { endpointId: string }): Promise<number> {
  const planned = only
    ? [{ channel: 'webhook' as const, endpointId: only.endpointId }]
    : planDeliveries(def, await channelTargets(db, ev.orgId));
  if (planned.length === 0) return 0;
  await db.insert(notificationDeliveries).values(planned.map((p) => ({
    id: randomId('dlv'), orgId: ev.orgId, eventId: ev.id, channel: p.channel, endpointId: p.endpointId,
    status: 'pending' as const, attempts: 0, nextAttemptAt: now, leaseUntil: null, lastStatusCode: null,
    lastError: null, createdAt: now, completedAt: null,
  })));
  return planned.length;
}

async function channelTargets(db: Db, orgId: string) {
  const [email] = await db.select().from(emailSettings).where(eq(emailSettings.orgId, orgId));
  const hooks = await db.select({ id: webhookEndpoints.id, enabled: webhookEndpoints.enabled, filter: webhookEndpoints.filter })
    .from(webhookEndpoints).where(eq(webhookEndpoints.orgId, orgId));
  return { email: email ?? null, webhooks: hooks };
}

export function eventView(r: EventRow): EventView {
  return {
    id: r.id, type: r.name, typeId: r.typeId, severity: r.severity, message: r.message, orgId: r.orgId,
    jobId: r.jobId, serverId: r.serverId, fields: r.fields, dedupKey: r.dedupKey, count: r.count,
    resolves: r.resolves, firstAt: new Date(r.firstAt).toISOString(), lastAt: new Date(r.lastAt).toISOString(),
  };
}

export interface EventQuery {
  orgId: string;
  since?: number;
  severities?: Severity[];
  jobId?: string;
  serverId?: string;
  types?: string[];
  limit: number;
}

/** Oldest first from `since` (events whose run was still going at `since` included), so `--follow` can page forward. */
export async function listEvents(db: Db, q: EventQuery): Promise<EventRow[]> {
  const where: SQL[] = [eq(events.orgId, q.orgId)];
  if (q.since != null) where.push(or(gte(events.firstAt, q.since), gte(events.lastAt, q.since))!);
  if (q.severities?.length) where.push(inArray(events.severity, q.severities));
  if (q.jobId) where.push(eq(events.jobId, q.jobId));
  if (q.serverId) where.push(eq(events.serverId, q.serverId));
  if (q.types?.length) where.push(inArray(events.name, q.types));
  if (q.since != null) {
    return db.select().from(events).where(and(...where)).orderBy(events.firstAt, events.id).limit(q.limit);
  }
  // Without `since`: the newest page, shown oldest first.
  const rows = await db.select().from(events).where(and(...where)).orderBy(desc(events.firstAt), desc(events.id)).limit(q.limit);
  return rows.reverse();
}

/** Deletes events older than the cutoff together with their deliveries and attempt logs. */
export async function pruneEvents(db: Db, cutoff: number, batch = 500): Promise<number> {
  let total = 0;
  for (;;) {
    const old = await db.select({ id: events.id }).from(events).where(lt(events.lastAt, cutoff)).limit(batch);
    if (old.length === 0) return total;
    const ids = old.map((r) => r.id);
    const dlv = await db.select({ id: notificationDeliveries.id }).from(notificationDeliveries).where(inArray(notificationDeliveries.eventId, ids));
    if (dlv.length) {
      await db.delete(notificationAttempts).where(inArray(notificationAttempts.deliveryId, dlv.map((d) => d.id)));
      await db.delete(notificationDeliveries).where(inArray(notificationDeliveries.eventId, ids));
    }
    await db.delete(events).where(inArray(events.id, ids));
    total += ids.length;
    if (old.length < batch) return total;
  }
}

export function catalogDef(name: string): EventDef | undefined {
  return eventByName(name);
}
