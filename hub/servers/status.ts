// Pure roll-up of a server's liveness from its polls: online while it keeps polling within its long-poll window.

/** Grace added to the agent's own long-poll wait before a silent server is called offline. */
export const OFFLINE_GRACE_MS = 15_000;

export function serverStatus(lastSeenAt: number | null, lastPollWaitSec: number | null, now: number): 'online' | 'offline' {
  if (lastSeenAt == null) return 'offline';
  return now - lastSeenAt <= (lastPollWaitSec ?? 0) * 1000 + OFFLINE_GRACE_MS ? 'online' : 'offline';
}
