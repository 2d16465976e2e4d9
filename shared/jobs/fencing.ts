// Self-fencing on the source, from its own observations only: a source cut off from both the hub and the
// target for the failover window stops sending, so it can never write over a target that took over.

const sec = (ms: number) => Math.round(ms / 100) / 10;

export interface FenceInput {
  now: number;
  /** When this source agent process started (ms): silence counts from here if it never made contact. */
  agentStartedAt: number;
  /** Last successful exchange with the hub / with the target agent (ms), or null. */
  lastHubContactAt: number | null;
  lastTargetContactAt: number | null;
  /** The job's failover window in seconds (time mode: failoverTimeSec). */
  windowSec: number;
  /** Fence this much before the window ends so the source is quiet before a target could take over. Default min(5 s, window / 4). */
  marginSec?: number;
}

export interface FenceDecision {
  fence: boolean;
  /** Seconds since the source last reached either the hub or the target. */
  isolatedSec: number;
  reason: string;
}

/**
 * Self-fencing runs on the source and uses only its own observations (pg_auto_failover PR #311: a fence that
 * needs the hub never fires). A source that reaches neither the hub nor the target stops sending and serving.
 */
export function shouldFenceSource(input: FenceInput): FenceDecision {
  const lastContact = Math.max(input.lastHubContactAt ?? -Infinity, input.lastTargetContactAt ?? -Infinity, input.agentStartedAt);
  const isolatedSec = sec(input.now - lastContact);
  const marginSec = input.marginSec ?? Math.min(5, input.windowSec / 4);
  const fenceAfterSec = Math.max(0, input.windowSec - marginSec);
  const fence = input.now - lastContact >= fenceAfterSec * 1000;
  return {
    fence,
    isolatedSec,
    reason: fence
      ? `reached neither the hub nor the target for ${isolatedSec} s (limit ${fenceAfterSec} s): stop sending and serving until the hub says otherwise`
      : `last reached the hub or the target ${isolatedSec} s ago (fences after ${fenceAfterSec} s)`,
  };
}
