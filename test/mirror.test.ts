// Files jobs and the mirror with a real hub and two agents on 127.0.0.1: exact copies, deltas, orphans, rules, resume.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs/promises';
import path from 'node:path';
import os from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { startCluster, filesJob, type Cluster } from './support/cluster';
import { tempDir, waitFor } from './support/processes';
import { snapshotTree, diffTrees, randomData } from './support/trees';

let c: Cluster;
const MID_MIRROR_FILES = 60;

/** Whether this machine can make a directory immutable (root on a filesystem with chattr attributes). */
function chattrWorks(): boolean {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tandem-chattr-'));
  try {
    execFileSync('chattr', ['+i', dir], { stdio: 'ignore' });
    execFileSync('chattr', ['-i', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
beforeAll(async () => { c = await startCluster(); });
afterAll(async () => { await c?.stop(); });

const mirrored = (j: any) => j.state === 'protecting' && j.mirrorStatus === 'idle' && j.targetDataState === 'ok';

async function buildRichTree(root: string) {
  await fs.mkdir(path.join(root, 'nested/deeper/deepest'), { recursive: true });
  await fs.mkdir(path.join(root, 'empty-dir'));
  await fs.writeFile(path.join(root, 'empty.txt'), '');
  await fs.writeFile(path.join(root, 'nested/deeper/deepest/leaf.txt'), 'leaf\n');
  await fs.writeFile(path.join(root, 'file with spaces.txt'), 'spaces');
  await fs.writeFile(path.join(root, 'naïve-日本語-файл.txt'), 'unicode ✓');
  await fs.writeFile(path.join(root, 'big.bin'), randomData(50 * 1024 * 1024));
  await fs.writeFile(path.join(root, 'script.sh'), '#!/bin/sh\necho hi\n', { mode: 0o750 });
  await fs.writeFile(path.join(root, 'secret.txt'), 'secret', { mode: 0o600 });
  await fs.symlink('nested/deeper/deepest/leaf.txt', path.join(root, 'link-inside'));
  await fs.symlink('/etc/hostname', path.join(root, 'link-outside'));
  await fs.writeFile(path.join(root, 'hard-a.txt'), 'hard link content');
  await fs.link(path.join(root, 'hard-a.txt'), path.join(root, 'nested/hard-b.txt'));
  // link(2) does not follow symlinks: a second name for the symlink itself.
  await fs.link(path.join(root, 'link-inside'), path.join(root, 'nested/link-inside-2'));
  const old = new Date('2020-01-02T03:04:05.678Z');
  await fs.utimes(path.join(root, 'secret.txt'), old, old);
  await fs.utimes(path.join(root, 'nested'), old, old);
}

describe('files job: mirror', () => {
  it('creates a job, mirrors a rich tree and ends byte-for-byte identical with metadata', async () => {
    const src = await tempDir('src');
    const dst = await tempDir('dst');
    await buildRichTree(src);
    const created = await c.api('POST', '/v1/jobs', filesJob('rich', src, dst));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const job = await c.waitJob('mirror complete', created.body.id, mirrored);
    expect(job.health).toBe('healthy');
    expect(job.stats.filesTotal).toBeGreaterThanOrEqual(9);
    expect(job.stats.percentComplete).toBe(100);
    expect(diffTrees(await snapshotTree(src), await snapshotTree(dst))).toEqual([]);
    const b = await fs.lstat(path.join(dst, 'nested/hard-b.txt'));
    const a = await fs.lstat(path.join(dst, 'hard-a.txt'));
    expect(b.ino).toBe(a.ino);
    const l2 = await fs.lstat(path.join(dst, 'nested/link-inside-2'));
    expect(l2.isSymbolicLink()).toBe(true);
    expect(l2.ino).toBe((await fs.lstat(path.join(dst, 'link-inside'))).ino);
    expect(await fs.readlink(path.join(dst, 'link-outside'))).toBe('/etc/hostname');
  });

  it('agents report their file systems\' free space, which job validation checks on the target', async () => {
    const beta = await c.api('GET', '/v1/servers/beta');
    expect(beta.status).toBe(200);
    const fsOfTmp = (beta.body.diskSpace as Array<{ mount: string; freeBytes: number; totalBytes: number }>)
      .filter((f) => os.tmpdir() === f.mount || os.tmpdir().startsWith(f.mount.endsWith('/') ? f.mount : `${f.mount}/`))
      .sort((a, b) => b.mount.length - a.mount.length)[0];
    expect(fsOfTmp?.totalBytes).toBeGreaterThan(0);
    expect(fsOfTmp?.freeBytes).toBeGreaterThan(0);
    const src = await tempDir('src');
    const dst = await tempDir('dst');
    const v = await c.api('POST', '/v1/jobs/validate', filesJob('space-check', src, dst));
    expect(v.status).toBe(200);
    // This machine's disk is not nearly full: no warning, but the check ran on a reported file system.
    const low = fsOfTmp!.freeBytes < fsOfTmp!.totalBytes * 0.05;
    expect(v.body.items.some((i: any) => i.code === 'target_low_space')).toBe(low);
  });

  it('a difference mirror after changing 1% of a large file sends about 1% of it', async () => {
    const src = await tempDir('src');
    const dst = await tempDir('dst');
    const size = 64 * 1024 * 1024;
    await fs.writeFile(path.join(src, 'large.bin'), randomData(size));
    const created = await c.api('POST', '/v1/jobs', filesJob('delta', src, dst));
    await c.waitJob('first mirror', created.body.id, mirrored);
    // Stop the job (no replication), change 1% of the blocks, start: the start remirrors the differences.
    expect((await c.api('POST', `/v1/jobs/${created.body.id}/stop`)).status).toBe(200);
    await c.waitJob('stopped', created.body.id, (j) => j.state === 'stopped');
    await new Promise((r) => setTimeout(r, 1500)); // the source hears of it on its next (woken) poll
    const fh = await fs.open(path.join(src, 'large.bin'), 'r+');
    for (let i = 0; i < 20; i++) await fh.write(randomData(32 * 1024), 0, 32 * 1024, i * 3 * 1024 * 1024 + 4096);
    await fh.close();
    const restarted = await c.api('POST', `/v1/jobs/${created.body.id}/start`);
    expect(restarted.status).toBe(200);
    const mirrorId = restarted.body.mirrorRequest.id;
    const job = await c.waitJob('difference mirror', created.body.id, (j) => mirrored(j) && j.mirrorRequest.id === mirrorId && j.stats.mirrorCompletedAt && j.stats.bytesSkipped > 0);
    const changed = 20 * 32 * 1024;
    expect(job.stats.bytesSent).toBeGreaterThanOrEqual(changed);
    expect(job.stats.bytesSent).toBeLessThan(changed * 3);
    expect(diffTrees(await snapshotTree(src), await snapshotTree(dst))).toEqual([]);
  });
});

describe('files job: orphans, rules, verify, controls, resume', () => {
  async function seededPair() {
    const src = await tempDir('src');
    const dst = await tempDir('dst');
    await fs.mkdir(path.join(src, 'keep'), { recursive: true });
    await fs.writeFile(path.join(src, 'keep/a.txt'), 'a');
    await fs.mkdir(path.join(dst, 'keep'), { recursive: true });
    await fs.writeFile(path.join(dst, 'keep/orphan.txt'), 'not on the source');
    await fs.mkdir(path.join(dst, 'gone-dir/sub'), { recursive: true });
    await fs.writeFile(path.join(dst, 'gone-dir/sub/x'), 'x');
    return { src, dst };
  }

  it('orphans: keep leaves them, delete removes them, move relocates them', async () => {
    const keep = await seededPair();
    const k = await c.api('POST', '/v1/jobs', filesJob('orphans-keep', keep.src, keep.dst, { orphans: { action: 'keep' } }));
    const kj = await c.waitJob('mirror', k.body.id, mirrored);
    expect(kj.stats.orphansFound).toBe(2);
    expect(await fs.readFile(path.join(keep.dst, 'keep/orphan.txt'), 'utf8')).toBe('not on the source');

    const del = await seededPair();
    const d = await c.api('POST', '/v1/jobs', filesJob('orphans-delete', del.src, del.dst, { orphans: { action: 'delete' } }));
    await c.waitJob('mirror', d.body.id, mirrored);
    expect(diffTrees(await snapshotTree(del.src, { dirMtimes: false }), await snapshotTree(del.dst, { dirMtimes: false }))).toEqual([]);

    const mv = await seededPair();
    const moveTo = await tempDir('moved');
    const m = await c.api('POST', '/v1/jobs', filesJob('orphans-move', mv.src, mv.dst, { orphans: { action: 'move', moveTo } }));
    await c.waitJob('mirror', m.body.id, mirrored);
    expect(await fs.readFile(path.join(moveTo, mv.src.slice(1), 'keep/orphan.txt'), 'utf8')).toBe('not on the source');
    await expect(fs.access(path.join(mv.dst, 'keep/orphan.txt'))).rejects.toThrow();
  });

  it('nested include/exclude rules with wildcards decide what is copied, and excluded target files are not orphans', async () => {
    const src = await tempDir('src');
    const dst = await tempDir('dst');
    for (const f of ['app/main.c', 'app/build/out.o', 'app/build/keep/important.txt', 'app/logs/x.log', 'app/logs/readme.txt', 'app/cache.tmp', 'other/skip.txt']) {
      await fs.mkdir(path.dirname(path.join(src, f)), { recursive: true });
      await fs.writeFile(path.join(src, f), f);
    }
    await fs.mkdir(path.join(dst, 'app/build'), { recursive: true });
    await fs.writeFile(path.join(dst, 'app/build/old.o'), 'excluded on the source: protected from orphan deletion');
    const rules = [
      { path: `${src}/app`, type: 'include', recursive: true },
      { path: `${src}/app/build`, type: 'exclude', recursive: true },
      { path: `${src}/app/build/keep`, type: 'include', recursive: true },
      { path: `${src}/app/*.tmp`, type: 'exclude', recursive: false },
      { path: `${src}/app/logs/*.log`, type: 'exclude', recursive: false },
    ];
    const job = await c.api('POST', '/v1/jobs', { ...filesJob('rules', src, dst), rules, orphans: { action: 'delete' } });
    expect(job.status, JSON.stringify(job.body)).toBe(201);
    await c.waitJob('mirror', job.body.id, mirrored);
    const got = Object.entries(await snapshotTree(dst)).filter(([, e]) => e.type === 'file').map(([p]) => p).sort();
    expect(got).toEqual(['app/build/keep/important.txt', 'app/build/old.o', 'app/logs/readme.txt', 'app/main.c']);
  });

  it('verify reports differences and, when asked, mirrors them', async () => {
    const src = await tempDir('src');
    const dst = await tempDir('dst');
    await fs.writeFile(path.join(src, 'one.txt'), 'one');
    await fs.writeFile(path.join(src, 'two.txt'), 'two');
    // Large enough (8 MiB and more) for the target's digests to come in a request of their own.
    await fs.writeFile(path.join(src, 'big.bin'), randomData(9 * 1024 * 1024));
    const job = await c.api('POST', '/v1/jobs', filesJob('verify', src, dst));
    await c.waitJob('mirror', job.body.id, mirrored);
    // Change the target behind the job's back: same size and time, different content (only block checksums see it).
    for (const [name, offset, data] of [['one.txt', 0, 'ONE'], ['big.bin', 5 * 1024 * 1024, 'changed']] as const) {
      const st = await fs.stat(path.join(dst, name));
      const fh = await fs.open(path.join(dst, name), 'r+');
      await fh.write(data, offset);
      await fh.close();
      await fs.utimes(path.join(dst, name), st.atime, st.mtime);
    }
    await fs.rm(path.join(dst, 'two.txt'));
    const v = await c.api('POST', `/v1/jobs/${job.body.id}/verify`, { blockChecksum: true, mirrorDifferences: true });
    expect(v.status).toBe(202);
    const report = await waitForReport(job.body.id);
    expect(report).toMatchObject({ filesCompared: 3, identical: 0, different: 2, missingOnTarget: 1 });
    expect(report.paths.map((p: any) => path.basename(p.path)).sort()).toEqual(['big.bin', 'one.txt', 'two.txt']);
    expect(report.paths.find((p: any) => p.path.endsWith('big.bin')).reason).toBe('1 of 2304 blocks differ');
    await waitForEqual(src, dst);
  });

  it('verify lists what only the target has, and mirroring the differences handles it as the job\'s orphan setting says', async () => {
    const src = await tempDir('src');
    const dst = await tempDir('dst');
    await fs.writeFile(path.join(src, 'one.txt'), 'one');
    const job = await c.api('POST', '/v1/jobs', { ...filesJob('verify-orphans', src, dst), orphans: { action: 'delete' } });
    await c.waitJob('mirror', job.body.id, mirrored);
    await fs.writeFile(path.join(dst, 'stray.txt'), 'only on the target');
    expect((await c.api('POST', `/v1/jobs/${job.body.id}/verify`, { mirrorDifferences: true })).status).toBe(202);
    const report = await waitForReport(job.body.id);
    expect(report).toMatchObject({ different: 0, missingOnTarget: 0, orphansOnTarget: 1 });
    expect(report.paths).toEqual([{ path: path.join(src, 'stray.txt'), reason: 'only on the target (orphan)' }]);
    await waitForEqual(src, dst);
    await c.api('DELETE', `/v1/jobs/${job.body.id}`);
  });

  it('a verify schedule runs verifies by itself, reports them like requested ones and mirrors the differences', async () => {
    const src = await tempDir('src');
    const dst = await tempDir('dst');
    await fs.writeFile(path.join(src, 'one.txt'), 'one');
    const job = await c.api('POST', '/v1/jobs', {
      ...filesJob('verify-schedule', src, dst),
      verify: { schedule: { cron: '*/2 * * * * *', timezone: 'UTC' }, mirrorDifferences: true, blockChecksum: true },
    });
    expect(job.status, JSON.stringify(job.body)).toBe(201);
    await c.waitJob('mirror', job.body.id, mirrored);
    // Changed behind the job's back, same size and time: only a block-checksum verify finds it.
    const st = await fs.stat(path.join(dst, 'one.txt'));
    await fs.writeFile(path.join(dst, 'one.txt'), 'ONE');
    await fs.utimes(path.join(dst, 'one.txt'), st.atime, st.mtime);
    const report = await waitFor('a scheduled verify that found the change', async () => {
      const r = await c.api('GET', `/v1/jobs/${job.body.id}/verify`);
      return r.body.status === 'done' && r.body.report?.different === 1 && r.body;
    }, 30_000);
    expect(report.verifyId).toMatch(/^sched/);
    expect(report.report.scheduled).toBe(true);
    await waitForEqual(src, dst);
    await c.api('DELETE', `/v1/jobs/${job.body.id}`);
  });

  it('pause keeps the cursor and resume continues; stop drops it', async () => {
    const { src, dst, job, landed } = await slowMirrorUnderWay('controls');
    expect((await c.api('POST', `/v1/jobs/${job.body.id}/mirror`, { action: 'pause' })).status).toBe(200);
    const paused = await c.waitJob('paused', job.body.id, (j) => j.mirrorStatus === 'paused');
    const sentAtPause = paused.stats.bytesSent;
    expect(sentAtPause).toBeLessThan(MID_MIRROR_FILES * 2 * 1024 * 1024);
    await new Promise((r) => setTimeout(r, 1000));
    expect((await c.job(job.body.id)).stats.bytesSent).toBe(sentAtPause);
    expect((await c.api('POST', `/v1/jobs/${job.body.id}/mirror`, { action: 'resume' })).status).toBe(200);
    await c.waitJob('resumed mirror complete', job.body.id, mirrored, 120_000);
    await expectResumedFromCursor(dst, landed);
    expect(diffTrees(await snapshotTree(src), await snapshotTree(dst))).toEqual([]);
    expect((await c.api('POST', `/v1/jobs/${job.body.id}/mirror`, { action: 'stop' })).status).toBe(200);
  });

  it('kill the target agent mid-mirror and restart it: the mirror resumes and ends exact', async () => {
    const { src, dst, job, landed } = await slowMirrorUnderWay('kill-target');
    await c.restartTarget('SIGKILL');
    await c.waitJob('mirror complete after target restart', job.body.id, mirrored, 120_000);
    await expectResumedFromCursor(dst, landed);
    expect(diffTrees(await snapshotTree(src), await snapshotTree(dst))).toEqual([]);
  });

  it('kill the source agent mid-mirror and restart it: the mirror resumes and ends exact', async () => {
    const { src, dst, job, landed } = await slowMirrorUnderWay('kill-source');
    await c.restartSource('SIGKILL');
    await c.waitJob('mirror complete after source restart', job.body.id, mirrored, 120_000);
    await expectResumedFromCursor(dst, landed);
    expect(diffTrees(await snapshotTree(src), await snapshotTree(dst))).toEqual([]);
  });

  // An immutable directory (chattr +i) makes the target fail a mirror batch with EPERM, even as root.
  it.skipIf(!chattrWorks())('a batch the target cannot apply is reported and retried; once the cause is fixed the mirror ends at once', async () => {
    const src = await tempDir('src');
    const dst = await tempDir('dst');
    for (const d of ['a', 'b', 'c']) {
      await fs.mkdir(path.join(src, d));
      for (let i = 0; i < 20; i++) await fs.writeFile(path.join(src, d, `f${i}`), randomData(5000));
    }
    await fs.mkdir(path.join(dst, 'b'));
    execFileSync('chattr', ['+i', path.join(dst, 'b')]);
    try {
      const job = await c.api('POST', '/v1/jobs', filesJob('immutable-dir', src, dst));
      const failing = await c.waitJob('failure reported', job.body.id, (j) => /EPERM/.test(j.activity ?? ''), 30_000);
      expect(failing.targetDataState).not.toBe('ok');
      // Let two or more failed attempts happen (each refused stream used to leave the next request waiting 30 s).
      await new Promise((r) => setTimeout(r, 1500));
      execFileSync('chattr', ['-i', path.join(dst, 'b')]);
      await c.waitJob('mirrored after the fix', job.body.id, mirrored, 15_000);
      await waitForEqual(src, dst);
    } finally {
      execFileSync('chattr', ['-i', path.join(dst, 'b')]);
    }
  });

  it('a server used by a job cannot be removed; deleting the job frees it', async () => {
    const src = await tempDir('src');
    const dst = await tempDir('dst');
    const job = await c.api('POST', '/v1/jobs', filesJob('in-use', src, dst, { start: false }));
    const rm = await c.api('DELETE', '/v1/servers/beta');
    expect(rm).toMatchObject({ status: 409, body: { error: { code: 'server_in_use' } } });
    expect((await c.api('DELETE', `/v1/jobs/${job.body.id}`)).status).toBe(200);
  });
});

/**
 * A full mirror (mode "all") of 60 files of 2 MiB of random data, caught half way. It takes about a second on a quiet
 * machine, less than the hub's view of its progress can lag behind, so this watches the target tree itself and
 * returns as soon as half the files are there, with what identifies each landed copy (inode and change time: a file
 * sent again lands as a new file renamed over it).
 */
async function slowMirrorUnderWay(name: string) {
  const src = await tempDir('src');
  const dst = await tempDir('dst');
  for (let i = 0; i < MID_MIRROR_FILES; i++) await fs.writeFile(path.join(src, `f${String(i).padStart(2, '0')}.bin`), randomData(2 * 1024 * 1024));
  const job = await c.api('POST', '/v1/jobs', filesJob(name, src, dst, { compression: 19, mirror: { mode: 'all' } }));
  const { waitFor } = await import('./support/processes');
  const landed = await waitFor('half the files on the target', async () => {
    const copies = await landedCopies(dst);
    return copies.size >= MID_MIRROR_FILES / 2 && copies;
  }, 60_000, 5);
  return { src, dst, job, landed };
}

async function landedCopies(dst: string): Promise<Map<string, string>> {
  const copies = new Map<string, string>();
  for (const n of await fs.readdir(dst)) {
    if (!n.endsWith('.bin')) continue;
    const st = await fs.stat(path.join(dst, n)).catch(() => null);
    if (st) copies.set(n, `${st.ino}:${st.ctimeMs}`);
  }
  return copies;
}

/**
 * The mirror went on from its cursor rather than from the start: of the copies on the target when it was interrupted,
 * at most the last batch's (32 MiB: 16 files) were sent again.
 */
async function expectResumedFromCursor(dst: string, landed: Map<string, string>) {
  const now = await landedCopies(dst);
  const sentAgain = [...landed].filter(([n, id]) => now.get(n) !== id).length;
  expect(sentAgain).toBeLessThanOrEqual(16);
}

async function waitForReport(jobId: string) {
  const { waitFor } = await import('./support/processes');
  return waitFor('verify report', async () => {
    const r = await c.api('GET', `/v1/jobs/${jobId}/verify`);
    return r.body.status === 'done' && r.body.report;
  });
}

async function waitForEqual(a: string, b: string) {
  const { waitFor } = await import('./support/processes');
  await waitFor('trees identical', async () => diffTrees(await snapshotTree(a, { dirMtimes: false }), await snapshotTree(b, { dirMtimes: false })).length === 0, 30_000);
}
