// The API view of a server row, with its computed online/offline status.
import type { servers } from '../db/schema';
import { iso, isoOrNull } from '../routes/time';
import { serverStatus } from './status';

export function serverView(r: typeof servers.$inferSelect, now: number) {
  return {
    id: r.id, name: r.name, status: serverStatus(r.lastSeenAt, r.lastPollWaitSec, now), hostname: r.hostname,
    machineId: r.machineId, os: r.os, version: r.agentVersion, addresses: r.addresses, dataPort: r.dataPort,
    certFingerprint: r.certFingerprint, filesystems: r.filesystems, settings: r.settings,
    /** Free and total bytes of the host's file systems, as the agent last reported them. */
    diskSpace: (r.state as { filesystems?: unknown[] } | null)?.filesystems ?? [],
    lastSeenAt: isoOrNull(r.lastSeenAt), clockSkewMs: r.clockSkewMs, createdAt: iso(r.createdAt),
  };
}
