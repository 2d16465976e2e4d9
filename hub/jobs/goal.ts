// An agent's goal state (its jobs, the hub's keys, its server settings) and a version of it, so a poll whose answer
// was lost (the agent cut it short, the connection dropped) is answered again at once instead of waiting for a change.
import type { DesiredJob } from '../../shared/protocol/jobs';
import { hashSecret } from '../../shared/tokens';
import type { HubDeps } from '../deps';
import { desiredJobsFor } from './desired';

export interface AgentGoal {
  desired: { jobs: DesiredJob[]; hubKeys: unknown };
  settings: Record<string, unknown>;
  version: string;
}

export async function agentGoal(deps: HubDeps, serverId: string, settings: Record<string, unknown>): Promise<AgentGoal> {
  const desired = { jobs: await desiredJobsFor(deps, serverId), hubKeys: deps.keys.publicJwks() };
  return { desired, settings, version: await goalVersion(desired, settings) };
}

/**
 * SHA-256 of the goal without the job tokens: a token is re-signed now and then (and by each Workers isolate), which
 * alone is no reason to answer a poll early; the token in hand stays valid for hours and each answer carries the newest.
 */
export async function goalVersion(desired: AgentGoal['desired'], settings: Record<string, unknown>): Promise<string> {
  const jobs = desired.jobs.map(({ jobToken: _t, ...rest }) => rest);
  // 128 bits of the SHA-256 (hex) are plenty to tell two goals apart.
  return (await hashSecret(JSON.stringify({ jobs, hubKeys: desired.hubKeys, settings }))).slice(0, 32);
}
