// Builds each agent's goal state for its jobs (sent on every poll) and the job tokens that scope peer streams.
// A restore is expressed as a reverse job (`<id>~restore`): the target mirrors its replica back to the source.
import { eq, or, inArray } from 'drizzle-orm';
import type { DesiredJob } from '../../shared/protocol/jobs';
import { signHubJwt } from '../../shared/tokens';
import { effectiveMonitor } from '../../shared/jobs/monitor-target';
import { RESTORING_STATES, RUNNING_STATES } from '../../shared/jobs/job-state';
import type { FilesJobSpec } from '../../shared/jobs/definition';
import { mapSourcePath, mappedTargetRoots } from '../../shared/paths';
import { jobs, servers } from '../db/schema';
import type { HubDeps } from '../deps';
import type { JobRow } from './lookup';

/** Job tokens live a day and are refreshed on polls, so replication outlives a long hub outage. */
export const JOB_TOKEN_TTL_SEC = 24 * 3600;
export const RESTORE_SUFFIX = '~restore';
const tokenCache = new Map<string, { token: string; exp: number }>();

export async function jobToken(deps: HubDeps, scope: { job: string; epoch: number; src: string; tgt: string }): Promise<string> {
  const key = `${scope.job}:${scope.epoch}:${scope.src}:${scope.tgt}:${deps.keys.current().kid}`;
  const nowSec = Math.floor(deps.clock.now() / 1000);
  const cached = tokenCache.get(key);
  if (cached && cached.exp - nowSec > JOB_TOKEN_TTL_SEC / 2) return cached.token;
  const exp = nowSec + JOB_TOKEN_TTL_SEC;
  const token = await signHubJwt(deps.keys.current(), 'job', scope, exp);
  tokenCache.set(key, { token, exp });
  return token;
}


type ServerRow = typeof servers.$inferSelect;
const peerOf = (s: ServerRow) => ({ serverId: s.id, name: s.name, addresses: s.addresses, port: s.dataPort, fingerprint: s.certFingerprint });

/** The spec of the reverse (restore) job: the replica's roots, mapped back onto the source's paths. */
export function reverseSpec(spec: FilesJobSpec, sourceName: string): FilesJobSpec {
  const roots = mappedTargetRoots(spec.rules, spec.pathMapping, sourceName);
  return {
    ...spec,
    rules: spec.rules.map((r) => ({ ...r, path: mapSourcePath(r.path, spec.pathMapping, sourceName) })),
    pathMapping: { mode: 'custom', entries: roots.map((r) => ({ source: r.targetPath, target: r.sourceRoot })) },
    // Restoring never deletes anything on the source that the replica lacks.
    orphans: { action: 'keep' },
    mirror: { ...spec.mirror, mode: 'different', blockChecksum: true },
    // A restore is an operator's explicit action: it does not wait for the job's transmit windows.
    transmitWindows: [],
  };
}

export async function desiredJobsFor(deps: HubDeps, serverId: string): Promise<DesiredJob[]> {
  const rows = await deps.db.select().from(jobs).where(or(eq(jobs.sourceServerId, serverId), eq(jobs.targetServerId, serverId)));
  if (!rows.length) return [];
  const ids = [...new Set(rows.flatMap((r) => [r.sourceServerId, r.targetServerId]))];
  const peers = new Map((await deps.db.select().from(servers).where(inArray(servers.id, ids))).map((s) => [s.id, s]));
  const out: DesiredJob[] = [];
  for (const job of rows) {
    // restoreStatus is the hub's copy of what the restoring agent reports; it is no goal, and it changes on every poll.
    const { restoreStatus: _reported, ...controls } = job.controls;
    const source = peers.get(job.sourceServerId);
    const target = peers.get(job.targetServerId);
    if (!source || !target) continue;
    const spec = job.spec as unknown as FilesJobSpec;
    const base = {
      name: job.name, state: job.state, epoch: job.epoch, mirror: null, verify: null,
      controls: { ...controls, paused: job.state === 'paused' },
    };
    for (const role of ['source', 'target'] as const) {
      if ((role === 'source' ? job.sourceServerId : job.targetServerId) !== serverId) continue;
      out.push({
        ...base, jobId: job.id, role, run: RUNNING_STATES.has(job.state) ? 'running' : 'stopped', sourceName: source.name,
        spec: { ...spec, failoverMonitor: effectiveMonitor(spec.failoverMonitor, source.addresses) },
        peer: peerOf(role === 'source' ? target : source),
        jobToken: await jobToken(deps, { job: job.id, epoch: job.epoch, src: job.sourceServerId, tgt: job.targetServerId }),
        mirror: (job.mirrorRequest as DesiredJob['mirror']) ?? null,
        verify: (job.verifyRequest as DesiredJob['verify']) ?? null,
      });
    }
    const restore = job.controls.restore as { id: string } | undefined;
    if (RESTORING_STATES.has(job.state) && restore) {
      // Roles swap: the target sends its replica, the source receives.
      const id = job.id + RESTORE_SUFFIX;
      const role = serverId === job.targetServerId ? 'source' : 'target';
      out.push({
        ...base, jobId: id, role, run: 'running', sourceName: target.name,
        spec: reverseSpec(spec, source.name) as unknown as Record<string, unknown>,
        peer: peerOf(role === 'source' ? source : target),
        jobToken: await jobToken(deps, { job: id, epoch: job.epoch, src: job.targetServerId, tgt: job.sourceServerId }),
        mirror: { id: restore.id, action: 'start', mode: 'different', blockChecksum: true },
      });
    }
  }
  return out;
}
