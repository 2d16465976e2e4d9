// PATCH /v1/jobs/:id of a job's name and settings (not its protected set) with a real hub and agents on 127.0.0.1:
// what GET shows afterwards (a merge patch keeps what it leaves out), what is refused, and that edited settings take
// effect on the agents.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs/promises';
import path from 'node:path';
import { startCluster, filesJob, type Cluster } from './support/cluster';
import { tempDir, waitFor } from './support/processes';
import { snapshotTree, diffTrees } from './support/trees';
import { utimeOf } from '../agent/target/apply';

let c: Cluster;
beforeAll(async () => { c = await startCluster(); });
afterAll(async () => { await c?.stop(); });

const mirrored = (j: any) => j.state === 'protecting' && j.mirrorStatus === 'idle' && j.targetDataState === 'ok';
const patch = (id: string, body: unknown) => c.api('PATCH', `/v1/jobs/${id}`, body);

async function verifyReport(jobId: string, verifyId: string) {
  return waitFor('verify report', async () => {
    const r = await c.api('GET', `/v1/jobs/${jobId}/verify`);
    return r.body.verifyId === verifyId && r.body.status === 'done' && r.body.report;
  });
}

/** Compressible data: text lines, a few MiB of them shrink by far more than 10× with zstd. */
function textData(bytes: number, seed: string): string {
  const line = `${seed}: the quick brown fox jumps over the lazy dog, again and again and again\n`;
  return line.repeat(Math.ceil(bytes / line.length)).slice(0, bytes);
}

describe('PATCH /v1/jobs/:id', () => {
  it('changes the name, compression, mirror, orphan and verify settings; GET shows them and keeps the rest', async () => {
    const src = await tempDir('src');
    const dst = await tempDir('dst');
    const moveTo = await tempDir('moved');
    const created = await c.api('POST', '/v1/jobs', filesJob('edit-me', src, dst, { start: false }));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id;
    const before = created.body.spec;
    const changes = {
      name: 'edited',
      compression: 'off',
      mirror: { mode: 'all', newerOnly: true, blockChecksum: false, calculateSize: false },
      orphans: { action: 'move', moveTo },
      verify: { schedule: { cron: '0 3 * * *', timezone: 'Europe/Berlin' }, mirrorDifferences: true, newerOnly: true, blockChecksum: true },
    };
    const edited = await patch(id, changes);
    expect(edited.status, JSON.stringify(edited.body)).toBe(200);
    const { name, ...specChanges } = changes;
    const expected = { ...before, ...specChanges };
    expect(edited.body).toMatchObject({ id, name, spec: expected });
    const got = await c.job(id);
    expect(got).toMatchObject({ id, name, state: 'stopped' });
    expect(got.spec).toEqual(expected);
    // Found by its new name, no longer by the old one.
    expect((await c.api('GET', '/v1/jobs/edited')).body.id).toBe(id);
    expect((await c.api('GET', '/v1/jobs/edit-me')).status).toBe(404);
    // A number level again, and a single field alone.
    expect((await patch(id, { compression: 7 })).status).toBe(200);
    expect((await c.job(id)).spec).toEqual({ ...expected, compression: 7 });
    await c.api('DELETE', `/v1/jobs/${id}`);
  });

  it('bad values get 400 with {error: {code, message}} naming the field, and change nothing', async () => {
    const src = await tempDir('src');
    const created = await c.api('POST', '/v1/jobs', filesJob('bad-values', src, await tempDir('dst'), { start: false }));
    const id = created.body.id;
    const bad: Array<[unknown, string]> = [
      [{ compression: 20 }, 'compression'],
      [{ compression: 'max' }, 'compression'],
      [{ compression: 0 }, 'compression'],
      [{ mirror: { mode: 'sometimes' } }, 'mirror.mode'],
      [{ mirror: { newerOnly: 'yes' } }, 'mirror.newerOnly'],
      [{ orphans: { action: 'move' } }, 'moveTo'],
      [{ orphans: { action: 'shred' } }, 'orphans.action'],
      [{ orphans: { action: 'move', moveTo: 'relative/dir' } }, 'orphans.moveTo'],
      [{ verify: { schedule: { cron: 'every night' } } }, 'verify.schedule.cron'],
      [{ verify: { blockChecksum: 1 } }, 'verify.blockChecksum'],
      [{ name: '../etc' }, 'name'],
      [{ name: '' }, 'name'],
      [{ replication: { batchMs: -1 } }, 'replication.batchMs'],
      [{ surprise: true }, 'surprise'],
    ];
    for (const [body, field] of bad) {
      const r = await patch(id, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error, JSON.stringify(body)).toEqual({ code: expect.any(String), message: expect.any(String) });
      expect(r.body.error.code).toBe('invalid_request');
      expect(r.body.error.message, JSON.stringify(body)).toContain(field);
    }
    const after = await c.job(id);
    expect(after.name).toBe('bad-values');
    expect(after.spec).toEqual(created.body.spec);
    expect((await patch('job_doesnotexist', { compression: 5 })).status).toBe(404);
    await c.api('DELETE', `/v1/jobs/${id}`);
  });

  it('editing one field of a settings object keeps the others (RFC 7396 merge); arrays are replaced whole', async () => {
    const schedule = { cron: '0 3 * * *', timezone: 'Europe/Berlin' };
    const created = await c.api('POST', '/v1/jobs', filesJob('merge-fields', await tempDir('src'), await tempDir('dst'), {
      start: false,
      verify: { schedule, mirrorDifferences: false, newerOnly: true },
      mirror: { mode: 'all', blockChecksum: false },
      failoverMonitor: { addresses: ['127.0.0.1', '::1'], failoverTimeSec: 60 },
    }));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id;
    const spec = created.body.spec;
    expect(spec.verify).toEqual({ schedule, mirrorDifferences: false, newerOnly: true, blockChecksum: false });

    const verify = await patch(id, { verify: { mirrorDifferences: true } });
    expect(verify.status, JSON.stringify(verify.body)).toBe(200);
    const expected = { ...spec, verify: { schedule, mirrorDifferences: true, newerOnly: true, blockChecksum: false } };
    expect(verify.body.spec).toEqual(expected);
    expect((await c.job(id)).spec).toEqual(expected);

    expect((await patch(id, { mirror: { newerOnly: true } })).status).toBe(200);
    expected.mirror = { mode: 'all', newerOnly: true, blockChecksum: false, calculateSize: true };
    expect((await c.job(id)).spec).toEqual(expected);

    expect((await patch(id, { failoverMonitor: { failoverTimeSec: 120 } })).status).toBe(200);
    expected.failoverMonitor = { ...spec.failoverMonitor, failoverTimeSec: 120 };
    expect(expected.failoverMonitor.addresses).toEqual(['127.0.0.1', '::1']);
    expect((await c.job(id)).spec).toEqual(expected);
    // An array is a value, not an object: the patch's list replaces the stored one.
    expect((await patch(id, { failoverMonitor: { addresses: ['::1'] } })).status).toBe(200);
    expected.failoverMonitor = { ...expected.failoverMonitor, addresses: ['::1'] };
    expect((await c.job(id)).spec).toEqual(expected);
    await c.api('DELETE', `/v1/jobs/${id}`);
  });

  it('null removes an optional setting such as verify.schedule; where a setting cannot be removed, null gets 400 naming the field', async () => {
    const schedule = { cron: '0 3 * * *', timezone: 'UTC' };
    const created = await c.api('POST', '/v1/jobs', filesJob('merge-null', await tempDir('src'), await tempDir('dst'), {
      start: false, verify: { schedule, mirrorDifferences: false, blockChecksum: true },
    }));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id;
    const removed = await patch(id, { verify: { schedule: null } });
    expect(removed.status, JSON.stringify(removed.body)).toBe(200);
    const expected = { ...created.body.spec, verify: { mirrorDifferences: false, newerOnly: false, blockChecksum: true } };
    expect(removed.body.spec).toEqual(expected);
    expect((await c.job(id)).spec).toEqual(expected);

    const refused: Array<[unknown, string]> = [
      [{ verify: { mirrorDifferences: null } }, 'verify.mirrorDifferences'],
      [{ verify: null }, 'verify'],
      [{ compression: null }, 'compression'],
      [{ rules: null }, 'rules'],
      [{ pathMapping: { mode: null } }, 'pathMapping.mode'],
      [{ mirror: { blockChecksum: null } }, 'mirror.blockChecksum'],
      [{ name: null }, 'name'],
    ];
    for (const [body, field] of refused) {
      const r = await patch(id, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.code, JSON.stringify(body)).toBe('invalid_request');
      expect(r.body.error.message, JSON.stringify(body)).toContain(field);
    }
    expect((await c.job(id)).spec).toEqual(expected);
    await c.api('DELETE', `/v1/jobs/${id}`);
  });

  it('orphans merge too: keep and back to move reuses the stored moveTo; move left without a moveTo gets 400 naming it', async () => {
    const moveTo = await tempDir('moved');
    const created = await c.api('POST', '/v1/jobs', filesJob('merge-orphans', await tempDir('src'), await tempDir('dst'), {
      start: false, orphans: { action: 'move', moveTo },
    }));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id;
    const orphans = async () => (await c.job(id)).spec.orphans;
    expect((await patch(id, { orphans: { action: 'keep' } })).status).toBe(200);
    expect(await orphans()).toEqual({ action: 'keep', moveTo });
    expect((await patch(id, { orphans: { action: 'move' } })).status).toBe(200);
    expect(await orphans()).toEqual({ action: 'move', moveTo });
    // "move" needs moveTo (OrphanSettings' refinement), checked on the merged settings as on create.
    for (const body of [{ orphans: { moveTo: null } }, { orphans: { action: 'move', moveTo: null } }]) {
      const r = await patch(id, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error).toEqual({ code: 'invalid_request', message: expect.stringContaining('orphans.moveTo') });
    }
    expect(await orphans()).toEqual({ action: 'move', moveTo });
    expect((await patch(id, { orphans: { action: 'delete', moveTo: null } })).status).toBe(200);
    expect(await orphans()).toEqual({ action: 'delete' });
    const r = await patch(id, { orphans: { action: 'move' } });
    expect(r.status).toBe(400);
    expect(r.body.error).toEqual({ code: 'invalid_request', message: expect.stringContaining('orphans.moveTo is required when action is "move"') });
    expect(await orphans()).toEqual({ action: 'delete' });
    await c.api('DELETE', `/v1/jobs/${id}`);
  });

  it('renaming onto another job\'s name, or its id, is refused with the reason; keeping one\'s own name is fine', async () => {
    const a = await c.api('POST', '/v1/jobs', filesJob('first', await tempDir('src'), await tempDir('dst'), { start: false }));
    const b = await c.api('POST', '/v1/jobs', filesJob('second', await tempDir('src'), await tempDir('dst'), { start: false }));
    const onName = await patch(b.body.id, { name: 'first' });
    expect(onName).toMatchObject({ status: 422, body: { error: { code: 'job_invalid' } } });
    expect(onName.body.error.message).toContain('"first" already exists');
    expect(onName.body.error.details.items.map((i: any) => i.code)).toContain('job_name_taken');
    // Jobs are found by id or name, so a name that is another job's id would make that id ambiguous.
    const onId = await patch(b.body.id, { name: a.body.id });
    expect(onId).toMatchObject({ status: 422, body: { error: { code: 'job_invalid' } } });
    expect(onId.body.error.details.items.map((i: any) => i.code)).toContain('job_name_taken');
    expect(onId.body.error.message).toContain(`"${a.body.id}" is the id of another job`);
    expect((await c.job(a.body.id)).name).toBe('first');
    expect((await c.job(b.body.id)).name).toBe('second');
    expect((await c.api('GET', `/v1/jobs/${a.body.id}`)).body.name).toBe('first');
    expect((await patch(b.body.id, { name: 'second', compression: 9 })).status).toBe(200);
    for (const j of [a, b]) await c.api('DELETE', `/v1/jobs/${j.body.id}`);
  });

  it('orphans changed from keep to delete: the next verify that mirrors differences removes the orphan it kept before', async () => {
    const src = await tempDir('src');
    const dst = await tempDir('dst');
    await fs.writeFile(path.join(src, 'a.txt'), 'a');
    await fs.writeFile(path.join(dst, 'orphan.txt'), 'only on the target');
    const job = await c.api('POST', '/v1/jobs', filesJob('orphans-edit', src, dst));
    const id = job.body.id;
    const first = await c.waitJob('mirror', id, mirrored);
    expect(first.stats.orphansFound).toBe(1);
    // Under "keep" a verify that mirrors differences leaves it.
    const keep = await c.api('POST', `/v1/jobs/${id}/verify`, { mirrorDifferences: true });
    expect(await verifyReport(id, keep.body.verifyId)).toMatchObject({ orphansOnTarget: 1, different: 0, missingOnTarget: 0 });
    await c.waitJob('idle after the verify', id, mirrored);
    expect(await fs.readFile(path.join(dst, 'orphan.txt'), 'utf8')).toBe('only on the target');

    const edited = await patch(id, { orphans: { action: 'delete' } });
    expect(edited.status, JSON.stringify(edited.body)).toBe(200);
    // Not a change of the protected set: no new mirror.
    expect(edited.body.mirrorRequest.id).toBe(job.body.mirrorRequest.id);
    const del = await c.api('POST', `/v1/jobs/${id}/verify`, { mirrorDifferences: true });
    expect(await verifyReport(id, del.body.verifyId)).toMatchObject({ orphansOnTarget: 1 });
    await waitFor('orphan removed', async () => !(await fs.access(path.join(dst, 'orphan.txt')).then(() => true, () => false)), 30_000);
    expect(diffTrees(await snapshotTree(src, { dirMtimes: false }), await snapshotTree(dst, { dirMtimes: false }))).toEqual([]);
    await c.api('DELETE', `/v1/jobs/${id}`);
  });

  it('verify.blockChecksum turned on makes a plain verify compare blocks, finding a change size and time cannot show', async () => {
    const src = await tempDir('src');
    const dst = await tempDir('dst');
    await fs.writeFile(path.join(src, 'one.txt'), 'one');
    const job = await c.api('POST', '/v1/jobs', filesJob('verify-edit', src, dst));
    const id = job.body.id;
    await c.waitJob('mirror', id, mirrored);
    // Changed behind the job's back with size and time kept (to the millisecond the agents compare: a Date given to
    // utimes can land a microsecond early, in the millisecond before, which utimeOf avoids).
    const st = await fs.stat(path.join(dst, 'one.txt'));
    await fs.writeFile(path.join(dst, 'one.txt'), 'ONE');
    await fs.utimes(path.join(dst, 'one.txt'), utimeOf(st.mtimeMs), utimeOf(st.mtimeMs));
    const plain = await c.api('POST', `/v1/jobs/${id}/verify`, {});
    const pr = await verifyReport(id, plain.body.verifyId);
    expect(pr, JSON.stringify(pr)).toMatchObject({ filesCompared: 1, identical: 1, different: 0 });
    expect((await patch(id, { verify: { blockChecksum: true } })).status).toBe(200);
    const blocks = await c.api('POST', `/v1/jobs/${id}/verify`, {});
    const br = await verifyReport(id, blocks.body.verifyId);
    expect(br, JSON.stringify(br)).toMatchObject({ filesCompared: 1, identical: 0, different: 1 });
    await c.api('DELETE', `/v1/jobs/${id}`);
  });

  it('compression changed from off to a zstd level: what is replicated afterwards goes compressed on the wire', async () => {
    const src = await tempDir('src');
    const dst = await tempDir('dst');
    const size = 2 * 1024 * 1024;
    await fs.writeFile(path.join(src, 'before.txt'), textData(size, 'before'));
    const job = await c.api('POST', '/v1/jobs', filesJob('compression-edit', src, dst, { compression: 'off' }));
    const id = job.body.id;
    const mirroredOff = await c.waitJob('mirror', id, mirrored);
    // Off: the wire carries the bytes as they are.
    expect(mirroredOff.stats.wireRawBytes).toBeGreaterThanOrEqual(size);
    expect(mirroredOff.stats.wireCompressedBytes).toBeGreaterThanOrEqual(mirroredOff.stats.wireRawBytes);

    const edited = await patch(id, { compression: 19 });
    expect(edited.status, JSON.stringify(edited.body)).toBe(200);
    // The source restarts its capture and sender with the new level once it has the edited job (next poll, woken).
    await new Promise((r) => setTimeout(r, 1500));
    await fs.writeFile(path.join(src, 'after.txt'), textData(size, 'after'));
    await waitFor('after.txt replicated', async () => (await fs.readFile(path.join(dst, 'after.txt'), 'utf8').catch(() => '')).length === size, 30_000);
    const after = await c.waitJob('the report of the replicated file', id, (j) => j.stats.wireRawBytes - mirroredOff.stats.wireRawBytes >= size);
    const raw = after.stats.wireRawBytes - mirroredOff.stats.wireRawBytes;
    const wire = after.stats.wireCompressedBytes - mirroredOff.stats.wireCompressedBytes;
    expect(wire).toBeLessThan(raw / 10);
    expect(diffTrees(await snapshotTree(src), await snapshotTree(dst))).toEqual([]);
    await c.api('DELETE', `/v1/jobs/${id}`);
  });
});
