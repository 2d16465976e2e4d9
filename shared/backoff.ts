// Reconnect delays: exponential with full jitter, capped, so a fleet of agents does not stampede a returning hub.
export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
}
export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 250, capMs: 10_000 };

/** Delay before retry number `attempt` (0-based). `random` is injectable for tests. */
export function backoffDelay(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  // Half fixed, half jitter: never zero (no hot loop), never above the cap.
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
