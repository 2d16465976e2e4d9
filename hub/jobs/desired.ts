// Builds each agent's goal state for its jobs (sent on every poll) and the job tokens that scope peer streams.
import { eq, or, inArray } from 'drizzle-orm';
import type { DesiredJob } from '../../shared/protocol/jobs';
import { signHubJwt } from '../../shared/tokens';
import type { JobState } from '../../shared/states';
import { jobs, servers } from '../db/schema';
import type { HubDeps } from '../deps';
import type { JobRow } from './lookup';

/** Job tokens live a day and are refreshed on polls, so replication outlives a long hub outage. */
export const JOB_TOKEN_TTL_SEC = 24 * 3600;
const tokenCache = new Map<string, { token: string; exp: number }>();

export async function jobToken(deps: HubDeps, job: JobRow): Promise<string> {
  const key = `${job.id}:${job.epoch}:${job.sourceServerId}:${job.targetServerId}:${deps.keys.current().kid}`;
  const nowSec = Math.floor(deps.clock.now() / 1000);
  const cached = tokenCache.get(key);
  if (cached && cached.exp - nowSec > JOB_TOKEN_TTL_SEC / 2) return cached.token;
  const exp = nowSec + JOB_TOKEN_TTL_SEC;
  const token = await signHubJwt(deps.keys.current(), 'job', { job: job.id, epoch: job.epoch, src: job.sourceServerId, tgt: job.targetServerId }, exp);
  tokenCache.set(key, { token, exp });
  return token;
}

/** States in which the agents run the job's data plane. */
const RUNNING: ReadonlySet<string> = new Set<JobState>(['starting', 'mirroring', 'protecting', 'paused', 'failover_condition_met']);

export async function desiredJobsFor(deps: HubDeps, serverId: string): Promise<DesiredJob[]> {
  const rows = await deps.db.select().from(jobs).where(or(eq(jobs.sourceServerId, serverId), eq(jobs.targetServerId, serverId)));
  if (!rows.length) return [];
  const ids = [...new Set(rows.flatMap((r) => [r.sourceServerId, r.targetServerId]))];
  const peers = new Map((await deps.db.select().from(servers).where(inArray(servers.id, ids))).map((s) => [s.id, s]));
  const out: DesiredJob[] = [];
  for (const job of rows) {
    const roles: Array<'source' | 'target'> = [];
    if (job.sourceServerId === serverId) roles.push('source');
    if (job.targetServerId === serverId) roles.push('target');
    for (const role of roles) {
      const peer = peers.get(role === 'source' ? job.targetServerId : job.sourceServerId);
      const source = peers.get(job.sourceServerId);
      if (!peer || !source) continue;
      out.push({
        jobId: job.id, name: job.name, role, run: RUNNING.has(job.state) ? 'running' : 'stopped', state: job.state,
        epoch: job.epoch, spec: job.spec, sourceName: source.name,
        peer: { serverId: peer.id, name: peer.name, addresses: peer.addresses, port: peer.dataPort, fingerprint: peer.certFingerprint },
        jobToken: await jobToken(deps, job),
        mirror: (job.mirrorRequest as DesiredJob['mirror']) ?? null,
        verify: (job.verifyRequest as DesiredJob['verify']) ?? null,
        controls: { ...job.controls, paused: job.state === 'paused' },
      });
    }
  }
  return out;
}
