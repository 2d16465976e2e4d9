// Queues a command for an agent and wakes its long poll; commands are delivered at least once and applied once by id.
import { randomId } from '../../shared/tokens';
import { commands } from '../db/schema';
import type { HubDeps } from '../deps';
import { iso, isoOrNull } from '../routes/time';

export async function queueCommand(deps: HubDeps, orgId: string, serverId: string, kind: string, payload: unknown) {
  const cmd = {
    id: randomId('cmd'), orgId, serverId, kind, payload: payload ?? {},
    status: 'pending' as const, result: null, createdAt: deps.clock.now(), deliveredAt: null, completedAt: null,
  };
  await deps.db.insert(commands).values(cmd);
  deps.waker.wake(serverId);
  return cmd;
}

export const commandView = (r: typeof commands.$inferSelect) => ({
  id: r.id, serverId: r.serverId, kind: r.kind, payload: r.payload, status: r.status, result: r.result ?? null,
  createdAt: iso(r.createdAt), deliveredAt: isoOrNull(r.deliveredAt), completedAt: isoOrNull(r.completedAt),
});
