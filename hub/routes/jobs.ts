// Files jobs: create (validated), list, show with status, edit, delete; lifecycle and mirror/verify controls.
import { Hono } from 'hono';
import { and, eq, inArray } from 'drizzle-orm';
import { JobCreate, JobPatch, MirrorControl, BandwidthOverride, BandwidthSettings, VerifyRequest, FilesJobSpec, FailoverRequest, RestoreRequest, FailbackRequest } from '../../shared/jobs/definition';
import { mergePatch } from '../../shared/jobs/merge-patch';
import { failoverOrder } from '../failover/evaluate';
import { claimJobSeat, releaseJobSeat } from '../licensing/enforce';
import { queueCommand, commandView } from '../commands/queue';
import { requireJobCommand, type JobCommand } from '../../shared/jobs/job-state';
import { transitionOrRefuse, wakeJobAgents } from '../jobs/transition';
import { reverseSpec } from '../jobs/desired';
import { TandemError, conflict } from '../../shared/errors';
import { randomId } from '../../shared/tokens';
import type { JobState } from '../../shared/states';
import { jobs, servers } from '../db/schema';
import { requireAdmin, requireRead, apiAuth } from '../middleware/auth';
import { parseBody } from '../middleware/validate';
import type { HubDeps, HubEnv } from '../deps';
import { documentRoutes } from '../openapi';
import { findJob, type JobRow } from '../jobs/lookup';
import { validateJob } from '../jobs/validate';
import { jobView } from '../jobs/view';

documentRoutes([
  { method: 'post', path: '/v1/jobs/validate', summary: 'Validate a job definition', auth: 'read', body: JobCreate },
  { method: 'post', path: '/v1/jobs', summary: 'Create (and by default start) a files job', auth: 'admin', body: JobCreate },
  { method: 'get', path: '/v1/jobs', summary: 'List jobs with status', auth: 'read' },
  { method: 'get', path: '/v1/jobs/{id}', summary: 'Show a job: state, health, mirror/replication status and stats', auth: 'read' },
  { method: 'patch', path: '/v1/jobs/{id}', summary: 'Edit a job: a JSON merge patch (RFC 7396) of its name and settings; objects merge, arrays replace, null removes an optional setting; validated as on create', auth: 'admin', body: JobPatch },
  { method: 'delete', path: '/v1/jobs/{id}', summary: 'Stop and delete a job', auth: 'admin' },
  { method: 'post', path: '/v1/jobs/{id}/start', summary: 'Start (or resume) protection; a start after stop remirrors', auth: 'admin' },
  { method: 'post', path: '/v1/jobs/{id}/stop', summary: 'Stop protection, discarding queues', auth: 'admin' },
  { method: 'post', path: '/v1/jobs/{id}/pause', summary: 'Pause transmission (the source keeps queueing)', auth: 'admin' },
  { method: 'post', path: '/v1/jobs/{id}/resume', summary: 'Resume transmission from the queue', auth: 'admin' },
  { method: 'post', path: '/v1/jobs/{id}/bandwidth', summary: 'Set bandwidth: no limit, a fixed limit, or back to the schedule; every job from the same source to the same target follows', auth: 'admin', body: BandwidthOverride },
  { method: 'post', path: '/v1/jobs/{id}/mirror', summary: 'Mirror control: start, pause, resume, stop', auth: 'admin', body: MirrorControl },
  { method: 'post', path: '/v1/jobs/{id}/verify', summary: 'Verify the target against the source', auth: 'admin', body: VerifyRequest },
  { method: 'get', path: '/v1/jobs/{id}/verify', summary: 'The latest verification report', auth: 'read' },
  { method: 'post', path: '/v1/jobs/{id}/failover', summary: 'Fail over to the target (after the condition is met, or a planned switch-over)', auth: 'admin', body: FailoverRequest },
  { method: 'post', path: '/v1/jobs/{id}/restore', summary: 'Restore the target\'s data to the source, or skip it (restoreData false)', auth: 'admin', body: RestoreRequest },
  { method: 'post', path: '/v1/jobs/{id}/reverse', summary: 'After a failover, swap source and target and protect in the other direction', auth: 'admin' },
  { method: 'post', path: '/v1/jobs/{id}/snapshots', summary: 'Take a snapshot of the replica now (returns the command to follow)', auth: 'admin' },
  { method: 'get', path: '/v1/jobs/{id}/snapshots', summary: 'List the replica snapshots on the target', auth: 'read' },
  { method: 'delete', path: '/v1/jobs/{id}/snapshots/{sid}', summary: 'Delete a snapshot', auth: 'admin' },
  { method: 'post', path: '/v1/jobs/{id}/failback', summary: 'Fail back: release identity and services on the target', auth: 'admin', body: FailbackRequest },
]);

async function serverNames(deps: HubDeps, rows: JobRow[]) {
  const ids = [...new Set(rows.flatMap((r) => [r.sourceServerId, r.targetServerId]))];
  if (!ids.length) return new Map<string, string>();
  return new Map((await deps.db.select({ id: servers.id, name: servers.name }).from(servers).where(inArray(servers.id, ids))).map((s) => [s.id, s.name]));
}

async function viewOf(deps: HubDeps, job: JobRow) {
  const names = await serverNames(deps, [job]);
  return jobView(job, deps.clock.now(), { source: names.get(job.sourceServerId), target: names.get(job.targetServerId) });
}


/** Applies an operator command through the transition table (409 with the reason when illegal) and saves extra fields. */
export async function commandJob(deps: HubDeps, job: JobRow, command: JobCommand, extra: Partial<JobRow> = {}): Promise<JobRow> {
  const updated = await transitionOrRefuse(deps, job, command, extra);
  const event = COMMAND_EVENTS[command];
  if (event) deps.events.raise({ event, orgId: job.orgId, jobId: job.id, fields: { jobName: job.name } });
  return updated;
}

const COMMAND_EVENTS: Partial<Record<JobCommand, 'job.started' | 'job.stopped' | 'job.paused' | 'job.resumed'>> = {
  start: 'job.started', stop: 'job.stopped', pause: 'job.paused', resume: 'job.resumed',
};

const newMirror = (mode: 'all' | 'different', blockChecksum?: boolean) =>
  ({ id: randomId('mir'), action: 'start', mode, requestedAt: Date.now(), ...(blockChecksum ? { blockChecksum } : {}) });

/** Every job from the job's source to its target, itself included: they share one transmission (manual). */
function jobsOfPair(deps: HubDeps, job: JobRow): Promise<JobRow[]> {
  return deps.db.select().from(jobs).where(and(eq(jobs.orgId, job.orgId), eq(jobs.sourceServerId, job.sourceServerId), eq(jobs.targetServerId, job.targetServerId)));
}

/** Pause and resume act on the transmission from a source to a target: every job of that pair follows (manual). */
async function forSiblings(deps: HubDeps, job: JobRow, command: 'pause' | 'resume') {
  for (const s of await jobsOfPair(deps, job)) {
    if (s.id === job.id) continue;
    const legal = command === 'pause' ? ['starting', 'mirroring', 'protecting'].includes(s.state) : s.state === 'paused';
    if (legal) await commandJob(deps, s, command);
  }
}

export const jobRoutes = new Hono<HubEnv>()
  .post('/v1/jobs/validate', requireRead, async (c) => {
    const deps = c.get('deps');
    const body = await parseBody(c, JobCreate);
    const { name, source, target, start: _s, type: _t, ...spec } = body;
    const result = await validateJob(deps, apiAuth(c).orgId, { name, source, target, spec });
    return c.json({ ok: result.ok, items: result.items });
  })
  .post('/v1/jobs', requireAdmin, async (c) => {
    const deps = c.get('deps');
    const orgId = apiAuth(c).orgId;
    const body = await parseBody(c, JobCreate);
    const { name, source, target, start, type, ...spec } = body;
    const result = await validateJob(deps, orgId, { name, source, target, spec });
    if (!result.ok) {
      throw new TandemError('job_invalid', `The job is not valid: ${result.items.filter((i) => i.severity === 'error').map((i) => i.message).join(' ')}`, 422, { items: result.items });
    }
    const now = deps.clock.now();
    const row: JobRow = {
      id: randomId('job'), orgId, name, type, sourceServerId: result.source!.id, targetServerId: result.target!.id,
      spec: spec as unknown as Record<string, unknown>, state: start ? 'starting' : 'stopped', resumeState: null, epoch: 1,
      mirrorRequest: start ? newMirror(spec.mirror.mode) : null, verifyRequest: null, controls: {},
      sourceStatus: null, targetStatus: null, sourceStatusAt: null, targetStatusAt: null, verifyReport: null,
      createdAt: now, updatedAt: now,
    };
    // A job_seats pool (if the org has one for files jobs) gives this job a seat, or refuses it.
    await claimJobSeat(deps, orgId, row.id, 'files');
    try {
      await deps.db.insert(jobs).values(row);
    } catch (err) {
      await releaseJobSeat(deps, orgId, row.id);
      throw err;
    }
    wakeJobAgents(deps, row);
    deps.events.raise({ event: 'job.created', orgId, jobId: row.id, fields: { jobName: name, sourceName: result.source!.name, targetName: result.target!.name } });
    if (start) deps.events.raise({ event: 'job.started', orgId, jobId: row.id, fields: { jobName: name } });
    return c.json({ ...(await viewOf(deps, row)), validation: result.items }, 201);
  })
  .get('/v1/jobs', requireRead, async (c) => {
    const deps = c.get('deps');
    const rows = await deps.db.select().from(jobs).where(eq(jobs.orgId, apiAuth(c).orgId));
    const names = await serverNames(deps, rows);
    const now = deps.clock.now();
    return c.json({ items: rows.map((j) => jobView(j, now, { source: names.get(j.sourceServerId), target: names.get(j.targetServerId) })) });
  })
  .get('/v1/jobs/:id', requireRead, async (c) => {
    const deps = c.get('deps');
    return c.json(await viewOf(deps, await findJob(deps.db, apiAuth(c).orgId, c.req.param('id'))));
  })
  .patch('/v1/jobs/:id', requireAdmin, async (c) => {
    const deps = c.get('deps');
    const orgId = apiAuth(c).orgId;
    const job = await findJob(deps.db, orgId, c.req.param('id'));
    const body = await parseBody(c, JobPatch);
    const { name, ...changes } = body;
    // Merged into the stored settings (RFC 7396), so editing one field keeps the others; the result is validated as on
    // create, cross-field rules included (a ZodError is a 400 naming the field).
    const spec = FilesJobSpec.parse(mergePatch(job.spec, changes));
    const result = await validateJob(deps, orgId, { name: name ?? job.name, source: job.sourceServerId, target: job.targetServerId, spec }, job.id);
    if (!result.ok) {
      throw new TandemError('job_invalid', `The change is not valid: ${result.items.filter((i) => i.severity === 'error').map((i) => i.message).join(' ')}`, 422, { items: result.items });
    }
    // A running job whose protected set or mapping changed needs a difference mirror: newly included paths (or the
    // new target paths) have nothing on the target yet, and the source's capture restarts with the new rules.
    const before = job.spec as unknown as FilesJobSpec;
    const setChanged = JSON.stringify([before.rules, before.pathMapping]) !== JSON.stringify([spec.rules, spec.pathMapping]);
    const remirror = setChanged && ['starting', 'mirroring', 'protecting', 'paused'].includes(job.state) ? { mirrorRequest: newMirror('different') } : {};
    const patch = { name: name ?? job.name, spec: spec as unknown as Record<string, unknown>, updatedAt: deps.clock.now(), ...remirror };
    await deps.db.update(jobs).set(patch).where(eq(jobs.id, job.id));
    wakeJobAgents(deps, job);
    return c.json({ ...(await viewOf(deps, { ...job, ...patch })), validation: result.items });
  })
  .delete('/v1/jobs/:id', requireAdmin, async (c) => {
    const deps = c.get('deps');
    const job = await findJob(deps.db, apiAuth(c).orgId, c.req.param('id'));
    // Deleting stops first: once the job is gone from their goal state, agents stop it and drop its queues.
    await deps.db.delete(jobs).where(and(eq(jobs.id, job.id), eq(jobs.orgId, job.orgId)));
    await releaseJobSeat(deps, job.orgId, job.id);
    wakeJobAgents(deps, job);
    deps.events.raise({ event: 'job.deleted', orgId: job.orgId, jobId: job.id, fields: { jobName: job.name } });
    return c.json({ deleted: job.id });
  })
  .post('/v1/jobs/:id/start', requireAdmin, async (c) => {
    const deps = c.get('deps');
    const job = await findJob(deps.db, apiAuth(c).orgId, c.req.param('id'));
    const spec = job.spec as unknown as FilesJobSpec;
    // Start from stopped remirrors (differences, block checksums where enabled); from paused it resumes.
    const extra = job.state === 'stopped' ? { mirrorRequest: newMirror(spec.mirror.mode) } : {};
    return c.json(await viewOf(deps, await commandJob(deps, job, 'start', extra)));
  })
  .post('/v1/jobs/:id/stop', requireAdmin, async (c) => {
    const deps = c.get('deps');
    const job = await findJob(deps.db, apiAuth(c).orgId, c.req.param('id'));
    return c.json(await viewOf(deps, await commandJob(deps, job, 'stop', { mirrorRequest: null })));
  })
  .post('/v1/jobs/:id/pause', requireAdmin, async (c) => {
    const deps = c.get('deps');
    const job = await findJob(deps.db, apiAuth(c).orgId, c.req.param('id'));
    const paused = await commandJob(deps, job, 'pause');
    await forSiblings(deps, job, 'pause');
    return c.json(await viewOf(deps, paused));
  })
  .post('/v1/jobs/:id/resume', requireAdmin, async (c) => {
    const deps = c.get('deps');
    const job = await findJob(deps.db, apiAuth(c).orgId, c.req.param('id'));
    const resumed = await commandJob(deps, job, 'resume');
    await forSiblings(deps, job, 'resume');
    return c.json(await viewOf(deps, resumed));
  })
  .post('/v1/jobs/:id/bandwidth', requireAdmin, async (c) => {
    // Manual "Set Bandwidth": the transmission from a source to a target is shared, so every job of the pair takes
    // the new mode; each keeps its schedule, so choosing "scheduled" again goes back to it.
    const deps = c.get('deps');
    const job = await findJob(deps.db, apiAuth(c).orgId, c.req.param('id'));
    const body = await parseBody(c, BandwidthOverride);
    const updates = (await jobsOfPair(deps, job)).map((s) => {
      const spec = s.spec as unknown as FilesJobSpec;
      const current = BandwidthSettings.parse(spec.bandwidth ?? {});
      const next = BandwidthSettings.safeParse({ ...current, mode: body.mode, ...(body.bytesPerSec !== undefined ? { bytesPerSec: body.bytesPerSec } : {}) });
      return { job: s, spec: { ...spec, bandwidth: next.success ? next.data : current }, ok: next.success };
    });
    const refused = updates.filter((u) => !u.ok).map((u) => u.job);
    if (refused.length) {
      const what = body.mode === 'fixed'
        ? 'a fixed limit needs bytesPerSec (at least 3500)'
        : `${refused.map((r) => `job ${r.name} (${r.id})`).join(', ')} ${refused.length > 1 ? 'have' : 'has'} no bandwidth schedule to go back to, and every job from this source to this target shares one transmission; add entries with PATCH /v1/jobs/ID {"bandwidth": {"schedule": [{"days", "start", "end", "bytesPerSec"}]}}`;
      throw new TandemError('bandwidth_invalid', `Cannot set bandwidth to ${body.mode}: ${what}.`, 422);
    }
    for (const u of updates) {
      await deps.db.update(jobs).set({ spec: u.spec as unknown as Record<string, unknown>, updatedAt: deps.clock.now() }).where(eq(jobs.id, u.job.id));
      wakeJobAgents(deps, u.job);
    }
    const updated = updates.find((u) => u.job.id === job.id)!;
    return c.json(await viewOf(deps, { ...job, spec: updated.spec as unknown as Record<string, unknown> }));
  })
  .post('/v1/jobs/:id/mirror', requireAdmin, async (c) => {
    const deps = c.get('deps');
    const job = await findJob(deps.db, apiAuth(c).orgId, c.req.param('id'));
    const body = await parseBody(c, MirrorControl);
    if (!['starting', 'mirroring', 'protecting', 'paused'].includes(job.state)) {
      throw conflict('job_not_running', `Mirror controls need a running job; the job is ${job.state}. Start it first.`);
    }
    const current = job.mirrorRequest as { id: string; mode?: string } | null;
    if (body.action !== 'start' && !current) throw conflict('no_mirror', 'There is no mirror to pause, resume or stop; start one.');
    const spec = job.spec as unknown as FilesJobSpec;
    const mirrorRequest = body.action === 'start'
      ? newMirror(body.mode ?? spec.mirror.mode)
      : { ...current!, id: randomId('mir'), action: body.action, mode: current!.mode, mirrorId: (current as { mirrorId?: string }).mirrorId ?? current!.id };
    await deps.db.update(jobs).set({ mirrorRequest, updatedAt: deps.clock.now() }).where(eq(jobs.id, job.id));
    wakeJobAgents(deps, job);
    return c.json(await viewOf(deps, { ...job, mirrorRequest }));
  })
  .post('/v1/jobs/:id/verify', requireAdmin, async (c) => {
    const deps = c.get('deps');
    const job = await findJob(deps.db, apiAuth(c).orgId, c.req.param('id'));
    const body = await parseBody(c, VerifyRequest);
    if (!['starting', 'mirroring', 'protecting', 'paused'].includes(job.state)) {
      throw conflict('job_not_running', `Verification needs a running job; the job is ${job.state}.`);
    }
    const spec = job.spec as unknown as FilesJobSpec;
    const verifyRequest = {
      id: randomId('ver'),
      mirrorDifferences: body.mirrorDifferences ?? spec.verify.mirrorDifferences,
      newerOnly: body.newerOnly ?? spec.verify.newerOnly,
      blockChecksum: body.blockChecksum ?? spec.verify.blockChecksum,
      requestedAt: deps.clock.now(),
    };
    await deps.db.update(jobs).set({ verifyRequest, verifyReport: null, updatedAt: deps.clock.now() }).where(eq(jobs.id, job.id));
    wakeJobAgents(deps, job);
    return c.json({ verifyId: verifyRequest.id, status: 'requested' }, 202);
  })
  .post('/v1/jobs/:id/failover', requireAdmin, async (c) => {
    const deps = c.get('deps');
    const job = await findJob(deps.db, apiAuth(c).orgId, c.req.param('id'));
    const body = await parseBody(c, FailoverRequest);
    const spec = job.spec as unknown as FilesJobSpec;
    // Manual failover: after "Failover Condition Met", or a planned switch-over of a healthy source.
    const order = failoverOrder(body.queueAction ?? spec.failover.queueAction, false);
    const next = await commandJob(deps, job, 'failover', { controls: { ...job.controls, failover: order } });
    deps.events.raise({ event: 'failover.started', orgId: job.orgId, jobId: job.id, fields: { jobName: job.name, targetName: job.targetServerId, mode: 'manual' } });
    return c.json(await viewOf(deps, next), 202);
  })
  .post('/v1/jobs/:id/restore', requireAdmin, async (c) => {
    const deps = c.get('deps');
    const job = await findJob(deps.db, apiAuth(c).orgId, c.req.param('id'));
    const body = await parseBody(c, RestoreRequest);
    if (body.to && body.to !== job.sourceServerId) {
      throw conflict('restore_target_unsupported', 'Restoring to a server other than the original source is not supported yet; restore to the source, then create a new job.');
    }
    if (!body.restoreData) {
      // "Do not restore data": the target's changes since failover are given up; the job then needs a mirror.
      return c.json(await viewOf(deps, await commandJob(deps, job, 'skip_restore')));
    }
    const restore = { id: randomId('rst') };
    const next = await commandJob(deps, job, 'restore', { controls: { ...job.controls, restore, restoreStatus: null } });
    deps.events.raise({ event: 'restore.started', orgId: job.orgId, jobId: job.id, fields: { jobName: job.name, targetName: job.targetServerId } });
    return c.json(await viewOf(deps, next), 202);
  })
  .post('/v1/jobs/:id/failback', requireAdmin, async (c) => {
    const deps = c.get('deps');
    const job = await findJob(deps.db, apiAuth(c).orgId, c.req.param('id'));
    const next = await commandJob(deps, job, 'failback', { controls: { ...job.controls, failback: { id: randomId('fb') } } });
    deps.events.raise({ event: 'failback.started', orgId: job.orgId, jobId: job.id, fields: { jobName: job.name, sourceName: job.sourceServerId } });
    return c.json(await viewOf(deps, next), 202);
  })
  .post('/v1/jobs/:id/reverse', requireAdmin, async (c) => {
    const deps = c.get('deps');
    const job = await findJob(deps.db, apiAuth(c).orgId, c.req.param('id'));
    // Reverse after a failover: the target becomes the source and protection continues the other way.
    const r = requireJobCommand(job.state as JobState, 'reverse', { reverseSupported: true });
    const [source] = await deps.db.select({ name: servers.name }).from(servers).where(eq(servers.id, job.sourceServerId));
    const spec = reverseSpec(job.spec as unknown as FilesJobSpec, source?.name ?? job.sourceServerId);
    const done = requireJobCommand(r.next, 'reverse_done', { reverseSupported: true });
    const patch: Partial<JobRow> = {
      sourceServerId: job.targetServerId, targetServerId: job.sourceServerId, spec: spec as unknown as Record<string, unknown>,
      state: done.next, epoch: job.epoch + (r.bumpEpoch ? 1 : 0) + (done.bumpEpoch ? 1 : 0),
      mirrorRequest: newMirror('different', true), controls: {}, sourceStatus: null, targetStatus: null,
      sourceStatusAt: null, targetStatusAt: null, updatedAt: deps.clock.now(),
    };
    await deps.db.update(jobs).set(patch).where(eq(jobs.id, job.id));
    const updated = { ...job, ...patch };
    wakeJobAgents(deps, updated);
    deps.events.raise({ event: 'mirror.started', orgId: job.orgId, jobId: job.id, fields: { jobName: job.name, mode: 'reverse protection' } });
    return c.json(await viewOf(deps, updated), 202);
  })
  .post('/v1/jobs/:id/snapshots', requireAdmin, async (c) => {
    const deps = c.get('deps');
    const job = await findJob(deps.db, apiAuth(c).orgId, c.req.param('id'));
    const cmd = await queueCommand(deps, job.orgId, job.targetServerId, 'snapshot.take', { jobId: job.id });
    return c.json({ command: commandView(cmd) }, 202);
  })
  .get('/v1/jobs/:id/snapshots', requireRead, async (c) => {
    const deps = c.get('deps');
    const job = await findJob(deps.db, apiAuth(c).orgId, c.req.param('id'));
    const report = job.targetStatus as { snapshots?: Array<{ takenAt: number }> } | null;
    return c.json({ items: (report?.snapshots ?? []).map((s) => ({ ...s, takenAt: new Date(s.takenAt).toISOString() })), reportedAt: job.targetStatusAt ? new Date(job.targetStatusAt).toISOString() : null });
  })
  .delete('/v1/jobs/:id/snapshots/:sid', requireAdmin, async (c) => {
    const deps = c.get('deps');
    const job = await findJob(deps.db, apiAuth(c).orgId, c.req.param('id'));
    const sid = c.req.param('sid');
    if (!/^[A-Za-z0-9._:-]{1,100}$/.test(sid)) throw new TandemError('invalid_snapshot_id', 'Snapshot ids are letters, digits, dot, dash, colon or underscore.', 400);
    const cmd = await queueCommand(deps, job.orgId, job.targetServerId, 'snapshot.delete', { jobId: job.id, snapshotId: sid });
    return c.json({ command: commandView(cmd) }, 202);
  })
  .get('/v1/jobs/:id/verify', requireRead, async (c) => {
    const deps = c.get('deps');
    const job = await findJob(deps.db, apiAuth(c).orgId, c.req.param('id'));
    const req = job.verifyRequest as { id: string } | null;
    return c.json({ verifyId: req?.id ?? null, report: job.verifyReport ?? null, status: !req ? 'none' : job.verifyReport?.completedAt ? 'done' : 'running' });
  });
