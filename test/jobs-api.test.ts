// Job definitions through the hub API in-process: validation rules, lifecycle conflicts, and goal state for agents.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { inProcessHub } from './support/in-process-hub';

const FP = Array.from({ length: 32 }, () => 'AB').join(':');
let hub: Awaited<ReturnType<typeof inProcessHub>>;
let creds: Record<string, string>;

async function enrol(name: string, version = '0.1.0') {
  const t = (await hub.call('POST', '/v1/agent-tokens', {})).body;
  const r = await hub.call('POST', '/v1/agent/enrol', { configToken: t.token, host: {
    name, hostname: name, machineId: `m-${name}`, os: 'Linux', agentVersion: version, addresses: ['127.0.0.1'], dataPort: 7000,
    filesystems: {}, certFingerprint: FP } }, null);
  creds[name] = r.body.credential;
  return r.body.serverId as string;
}

beforeEach(async () => {
  hub = await inProcessHub({ trial: true });
  creds = {};
  await enrol('alpha');
  await enrol('beta');
});
afterEach(() => hub.close());

const job = (over: Record<string, unknown> = {}) => ({
  name: 'web', source: 'alpha', target: 'beta', rules: [{ path: '/srv/www', type: 'include' }], ...over,
});

describe('job validation', () => {
  it('a valid job validates ok and is created and started', async () => {
    const v = await hub.call('POST', '/v1/jobs/validate', job());
    expect(v.body).toMatchObject({ ok: true, items: [{ severity: 'ok' }] });
    const c = await hub.call('POST', '/v1/jobs', job());
    expect(c.status).toBe(201);
    expect(c.body).toMatchObject({ state: 'starting', epoch: 1, targetDataState: 'unknown' });
  });

  it('unknown servers are errors and nothing is created', async () => {
    const c = await hub.call('POST', '/v1/jobs', job({ target: 'nope' }));
    expect(c).toMatchObject({ status: 422, body: { error: { code: 'job_invalid' } } });
    expect(c.body.error.details.items.map((i: any) => i.code)).toContain('target_unknown');
    expect((await hub.call('GET', '/v1/jobs')).body.items).toHaveLength(0);
  });

  it('a target path inside the job\'s own protected set (single server) is a loop', async () => {
    const v = await hub.call('POST', '/v1/jobs/validate', job({ target: 'alpha' }));
    expect(v.body.ok).toBe(false);
    expect(v.body.items.map((i: any) => i.code)).toContain('target_inside_protected_set');
    const ok = await hub.call('POST', '/v1/jobs/validate', job({ target: 'alpha', pathMapping: { mode: 'all_to_one', targetRoot: '/replicas' } }));
    expect(ok.body.ok).toBe(true);
  });

  it('two jobs mapping onto overlapping target paths are refused', async () => {
    expect((await hub.call('POST', '/v1/jobs', job())).status).toBe(201);
    const second = await hub.call('POST', '/v1/jobs/validate', job({ name: 'web2', rules: [{ path: '/srv', type: 'include' }] }));
    expect(second.body.items.map((i: any) => i.code)).toContain('target_overlaps_other_job');
    const dup = await hub.call('POST', '/v1/jobs/validate', job());
    expect(dup.body.items.map((i: any) => i.code)).toContain('job_name_taken');
  });

  it('a source running a newer version than the target is an error', async () => {
    await enrol('gamma', '9.0.0');
    const v = await hub.call('POST', '/v1/jobs/validate', job({ source: 'gamma' }));
    expect(v.body.items.map((i: any) => i.code)).toContain('source_newer_than_target');
  });

  it('a nearly full target file system is a warning, not an error', async () => {
    await hub.call('POST', '/v1/agent/poll', { agentTime: Date.now(), agentVersion: '0.1.0',
      state: { filesystems: [{ mount: '/', freeBytes: 10 * 1048576, totalBytes: 1000 * 1048576 }] } }, creds.beta);
    const v = await hub.call('POST', '/v1/jobs/validate', job());
    expect(v.body.ok).toBe(true);
    expect(v.body.items).toContainEqual(expect.objectContaining({ severity: 'warning', code: 'target_low_space' }));
  });

  it('bad definitions get 400 with the field named', async () => {
    expect((await hub.call('POST', '/v1/jobs', job({ rules: [{ path: 'relative', type: 'include' }] }))).status).toBe(400);
    const r = await hub.call('POST', '/v1/jobs', job({ mirror: { mode: 'sometimes' } }));
    expect(r.status).toBe(400);
    expect(r.body.error.message).toContain('mirror.mode');
    expect((await hub.call('POST', '/v1/jobs', job({ orphans: { action: 'move' } }))).body.error.message).toContain('moveTo');
    expect((await hub.call('POST', '/v1/jobs', job({ surprise: 1 }))).status).toBe(400);
  });
});

describe('licensing gates new protection', () => {
  it('a server without a licence cannot be the source of a new job; the reason is in validation', async () => {
    const bare = await inProcessHub();
    const t = (await bare.call('POST', '/v1/agent-tokens', {})).body;
    for (const name of ['a', 'b']) {
      await bare.call('POST', '/v1/agent/enrol', { configToken: t.token, host: { name, hostname: name, machineId: `m-${name}`, os: 'Linux', agentVersion: '0.1.0', addresses: ['127.0.0.1'], dataPort: 7000, filesystems: {}, certFingerprint: FP } }, null);
    }
    const v = await bare.call('POST', '/v1/jobs/validate', job({ source: 'a', target: 'b' }));
    expect(v.body.ok).toBe(false);
    expect(v.body.items.map((i: any) => i.code)).toContain('licence_missing');
    expect((await bare.call('POST', '/v1/jobs', job({ source: 'a', target: 'b' }))).status).toBe(422);
    bare.close();
  });
});

describe('job lifecycle and goal state', () => {
  it('agents receive their role, the peer and a job token on poll', async () => {
    const c = await hub.call('POST', '/v1/jobs', job());
    const poll = await hub.call('POST', '/v1/agent/poll', { agentTime: Date.now(), agentVersion: '0.1.0' }, creds.alpha);
    const d = poll.body.desired.jobs[0];
    expect(d).toMatchObject({ jobId: c.body.id, role: 'source', run: 'running', epoch: 1, peer: { name: 'beta', fingerprint: FP } });
    expect(d.jobToken.split('.')).toHaveLength(3);
    expect(poll.body.desired.hubKeys[0]).toMatchObject({ kty: 'OKP' });
    const t = await hub.call('POST', '/v1/agent/poll', { agentTime: Date.now(), agentVersion: '0.1.0' }, creds.beta);
    expect(t.body.desired.jobs[0]).toMatchObject({ role: 'target', peer: { name: 'alpha' } });
  });

  it('source reports move the job from starting to mirroring to protecting', async () => {
    const c = await hub.call('POST', '/v1/jobs', job());
    const mirrorId = c.body.mirrorRequest.id;
    const report = (extra: Record<string, unknown>) => hub.call('POST', '/v1/agent/poll', { agentTime: Date.now(), agentVersion: '0.1.0',
      jobs: [{ jobId: c.body.id, role: 'source', epoch: 1, at: Date.now(), mirrorRequestId: mirrorId, ...extra }] }, creds.alpha);
    await report({ mirrorStatus: 'in_progress', mirrorComplete: false });
    expect((await hub.call('GET', `/v1/jobs/${c.body.id}`)).body.state).toBe('mirroring');
    await report({ mirrorStatus: 'idle', mirrorComplete: true, targetDataState: 'ok' });
    expect((await hub.call('GET', `/v1/jobs/${c.body.id}`)).body.state).toBe('protecting');
  });

  it('while its agents start a job (a big set: minutes) they report it busy: shown in hand, not as missing; busy moves nothing', async () => {
    const c = await hub.call('POST', '/v1/jobs', job());
    const id = c.body.id;
    const mirrorId = c.body.mirrorRequest.id;
    const poll = (who: string, report: Record<string, unknown>) => hub.call('POST', '/v1/agent/poll', { agentTime: Date.now(), agentVersion: '0.1.0',
      jobs: [{ jobId: id, epoch: 1, at: Date.now(), ...report }] }, creds[who]);
    const view = async () => (await hub.call('GET', `/v1/jobs/${id}`)).body;
    const codes = (v: any) => v.warnings.map((w: any) => w.code);
    const events = async () => { await hub.deps.events.flush(); return (await hub.call('GET', `/v1/events?job=${id}`)).body.items.map((e: any) => e.type); };
    await poll('beta', { role: 'target', snapshots: [{ id: 'snap_1', takenAt: 1, method: 'copy', bytes: 1, scheduled: false }] });
    hub.clock.advance(90_000);
    // Control: a minute and a half without a report reads as two agents not reporting.
    expect(codes(await view())).toEqual(expect.arrayContaining(['source_not_reporting', 'target_not_reporting']));
    await poll('alpha', { role: 'source', busy: 'starting' });
    await poll('beta', { role: 'target', busy: 'updating' });
    let v = await view();
    expect(codes(v)).toEqual([]);
    expect(v).toMatchObject({ state: 'starting', health: 'healthy', mirrorStatus: 'calculating' });
    expect(v.activity).toContain('source agent starting the job: reading the protected set; target agent applying a change to the job');
    // A start that failed and is being retried says why.
    await poll('alpha', { role: 'source', busy: 'starting', lastError: 'starting the job failed: EACCES; retrying' });
    expect((await view()).activity).toContain('(starting the job failed: EACCES; retrying)');
    // The full reports then move the job on; the target's snapshot was known before it was busy: no event for it.
    const mirror = { mirrorId, filesTotal: 1, bytesTotal: 1, filesSent: 0, bytesSent: 0, filesSkipped: 0, bytesSkipped: 0, wireRawBytes: 0, wireCompressedBytes: 0, startedAt: Date.now(), completedAt: null, throughputBps: 0, orphansFound: 0, orphansRemoved: 0 };
    await poll('alpha', { role: 'source', mirrorRequestId: mirrorId, mirrorStatus: 'in_progress', mirrorComplete: false, mirror });
    await poll('beta', { role: 'target', snapshots: [{ id: 'snap_1', takenAt: 1, method: 'copy', bytes: 1, scheduled: false }] });
    v = await view();
    expect(v).toMatchObject({ state: 'mirroring', mirrorStatus: 'in_progress' });
    expect(v.activity).not.toContain('agent');
    const before = await events();
    expect(before).toContain('mirror.started');
    expect(before).not.toContain('snapshot.taken');
    // Busy while mirroring (a rule edited): the last report's progress stays on show, nothing moves, no event.
    await poll('alpha', { role: 'source', busy: 'updating' });
    v = await view();
    expect(v).toMatchObject({ state: 'mirroring', mirrorStatus: 'in_progress', stats: { filesTotal: 1 } });
    expect(v.activity).toContain('source agent applying a change to the job');
    await poll('alpha', { role: 'source', mirrorRequestId: mirrorId, mirrorStatus: 'in_progress', mirrorComplete: false, mirror });
    expect(await events()).toEqual(before);
    // A busy report is only that: no mirror state rides on it (the job does not complete).
    await poll('alpha', { role: 'source', busy: 'updating', mirrorRequestId: mirrorId, mirrorComplete: true });
    expect((await view()).state).toBe('mirroring');
  });

  it('a report from the wrong agent is ignored', async () => {
    const c = await hub.call('POST', '/v1/jobs', job());
    await hub.call('POST', '/v1/agent/poll', { agentTime: Date.now(), agentVersion: '0.1.0',
      jobs: [{ jobId: c.body.id, role: 'source', epoch: 1, at: Date.now(), mirrorRequestId: c.body.mirrorRequest.id, mirrorComplete: true }] }, creds.beta);
    expect((await hub.call('GET', `/v1/jobs/${c.body.id}`)).body.state).toBe('starting');
  });

  it('illegal commands get 409 with the reason; stop then start remirrors', async () => {
    const c = await hub.call('POST', '/v1/jobs', job({ start: false }));
    const r = await hub.call('POST', `/v1/jobs/${c.body.id}/pause`);
    expect(r).toMatchObject({ status: 409, body: { error: { code: 'illegal_job_transition' } } });
    expect(r.body.error.message).toMatch(/stopped/);
    const started = await hub.call('POST', `/v1/jobs/${c.body.id}/start`);
    expect(started.body).toMatchObject({ state: 'starting', mirrorRequest: { action: 'start' } });
    const stopped = await hub.call('POST', `/v1/jobs/${c.body.id}/stop`);
    expect(stopped.body.state).toBe('stopped');
    const again = await hub.call('POST', `/v1/jobs/${c.body.id}/start`);
    expect(again.body.mirrorRequest.id).not.toBe(started.body.mirrorRequest.id);
  });

  it('a monitor token can read jobs but not create them', async () => {
    const mon = (await hub.call('POST', '/v1/api-tokens', { name: 'm', role: 'monitor' })).body.token;
    expect((await hub.call('GET', '/v1/jobs', undefined, mon)).status).toBe(200);
    expect((await hub.call('POST', '/v1/jobs', job(), mon)).status).toBe(403);
  });
});
