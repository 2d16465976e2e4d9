// Agent liveness and clock events: online/offline edges seen from polls and a periodic sweep, and clock skew.
import { and, desc, eq, inArray } from 'drizzle-orm';
import type { Db } from '../db/types';
import { events, servers } from '../db/schema';
import { serverStatus } from '../servers/status';
import { dedupKey } from './dedup';
import { eventByName } from '../../shared/events/catalog';
import type { RaiseInput } from '../../shared/events/types';

/** Clocks further apart than this break token expiry and schedules; reported as agent.clock_skew. */
export const CLOCK_SKEW_LIMIT_MS = 30_000;

type Raise = { raise(input: RaiseInput): void };

export type LivenessEdge = 'went_offline' | 'came_online' | null;

/** Pure: the edge to report given the last reported liveness event and the current status. */
export function livenessEdge(lastReported: 'agent.online' | 'agent.offline' | null, status: 'online' | 'offline'): LivenessEdge {
  if (status === 'offline' && lastReported !== 'agent.offline') return 'went_offline';
  if (status === 'online' && lastReported === 'agent.offline') return 'came_online';
  return null;
}

/** Pure: skew edge between the previous and current skew readings. */
export function skewEdge(prevSkewMs: number | null, skewMs: number, limitMs = CLOCK_SKEW_LIMIT_MS): 'skewed' | 'recovered' | null {
  const was = prevSkewMs != null && Math.abs(prevSkewMs) > limitMs;
  const is = Math.abs(skewMs) > limitMs;
  if (is && !was) return 'skewed';
  if (!is && was) return 'recovered';
  return null;
}

async function lastLiveness(db: Db, orgId: string, serverId: string): Promise<'agent.online' | 'agent.offline' | null> {
  const key = dedupKey(eventByName('agent.offline')!, null, serverId, {});
  const [row] = await db.select({ name: events.name }).from(events)
    .where(and(eq(events.orgId, orgId), eq(events.dedupKey, key), inArray(events.name, ['agent.online', 'agent.offline'])))
    .orderBy(desc(events.firstAt)).limit(1);
  return (row?.name as 'agent.online' | 'agent.offline' | undefined) ?? null;
}

/** Every minute: raises agent.offline once for each enrolled server that has stopped polling. */
export async function sweepOfflineAgents(db: Db, now: number, bus: Raise): Promise<void> {
  const rows = await db.select({ id: servers.id, orgId: servers.orgId, name: servers.name, lastSeenAt: servers.lastSeenAt, wait: servers.lastPollWaitSec })
    .from(servers);
  for (const s of rows) {
    if (s.lastSeenAt == null || serverStatus(s.lastSeenAt, s.wait, now) === 'online') continue;
    if (livenessEdge(await lastLiveness(db, s.orgId, s.id), 'offline') === 'went_offline') {
      bus.raise({ event: 'agent.offline', orgId: s.orgId, serverId: s.id, fields: { serverName: s.name, lastSeenAt: new Date(s.lastSeenAt).toISOString() } });
    }
  }
}

/** One call from the poll route, before it records the poll: reads the previous poll of this server and reports edges. */
export async function notePollEdges(deps: { db: Db; events: Raise }, serverId: string, now: number, skewMs: number): Promise<void> {
  const [prev] = await deps.db.select({ orgId: servers.orgId, id: servers.id, name: servers.name, lastSeenAt: servers.lastSeenAt, lastPollWaitSec: servers.lastPollWaitSec, clockSkewMs: servers.clockSkewMs })
    .from(servers).where(eq(servers.id, serverId));
  if (prev) await notePoll(deps.db, deps.events, prev, now, skewMs);
}

/**
 * From the poll route, before it records the new poll: reports a server coming back and clock skew edges.
 * Only reads when the previous poll was late (a rare case), so the ordinary poll costs one cheap comparison.
 */
export async function notePoll(db: Db, bus: Raise, prev: { orgId: string; id: string; name: string; lastSeenAt: number | null; lastPollWaitSec: number | null; clockSkewMs: number | null }, now: number, skewMs: number): Promise<void> {
  if (prev.lastSeenAt != null && serverStatus(prev.lastSeenAt, prev.lastPollWaitSec, now) === 'offline') {
    if (livenessEdge(await lastLiveness(db, prev.orgId, prev.id), 'online') === 'came_online') {
      bus.raise({ event: 'agent.online', orgId: prev.orgId, serverId: prev.id, fields: { serverName: prev.name } });
    }
  }
  const edge = skewEdge(prev.clockSkewMs, skewMs);
  if (edge) {
    bus.raise({
      event: edge === 'skewed' ? 'agent.clock_skew' : 'agent.clock_skew_resolved', orgId: prev.orgId, serverId: prev.id,
      fields: { serverName: prev.name, skewMs, limitMs: CLOCK_SKEW_LIMIT_MS },
    });
  }
}
