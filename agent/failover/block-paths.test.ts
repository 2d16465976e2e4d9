import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { blockedMode, blockPaths, planBlock, planUnblock, readBlockState, unblockPaths } from './block-paths';

const modeOf = async (p: string) => (await stat(p)).mode & 0o7777;
const IS_ROOT = process.getuid?.() === 0;
const NOBODY = 65534;

let dir: string;
let stateFile: string;
let root: string;
let agentUid: number;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tandem-block-'));
  // Readable to the unprivileged user in the test that tries to write as "nobody".
  await chmod(dir, 0o755);
  stateFile = path.join(dir, 'state', 'blocked-paths.json');
  root = path.join(dir, 'replica');
  await mkdir(root);
  await chmod(root, 0o777);
  agentUid = (await stat(root)).uid;
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('blockedMode / planBlock / planUnblock', () => {
  it('removes write for group and other, and for an owner who is not the agent', () => {
    expect(blockedMode(0o775, true)).toBe(0o755);
    expect(blockedMode(0o777, false)).toBe(0o555);
    expect(blockedMode(0o2775, true)).toBe(0o2755); // setgid kept
    expect(blockedMode(0o755, true, true)).toBe(0o700);
    expect(blockedMode(0o755, false, true)).toBe(0o000);
  });

  it('keeps the original mode across repeated blocks, and adopts a mode changed in between', () => {
    const first = planBlock(0o775, undefined, 0o755, 't1');
    expect(first).toEqual({ action: 'block', record: { originalMode: 0o775, blockedMode: 0o755, blockedAt: 't1' } });
    expect(planBlock(0o755, first.record, 0o755, 't2')).toEqual({ action: 'keep', record: first.record });
    // Replication set the root to 0777 while blocked: that is now the mode to restore.
    expect(planBlock(0o777, first.record, 0o755, 't3').record.originalMode).toBe(0o777);
    // Switching to denyTraversal keeps the real original.
    expect(planBlock(0o755, first.record, 0o700, 't4').record).toMatchObject({ originalMode: 0o775, blockedMode: 0o700 });
  });

  it('restores only a root that still has the blocked mode', () => {
    const record = { originalMode: 0o775, blockedMode: 0o755, blockedAt: 't' };
    expect(planUnblock(0o755, record)).toEqual({ action: 'restore', mode: 0o775 });
    expect(planUnblock(0o700, record)).toEqual({ action: 'forget' });
    expect(planUnblock(0o755, undefined)).toEqual({ action: 'none' });
  });
});

describe('blockPaths / unblockPaths', () => {
  it('blocks a root, records its mode, and unblock restores it', async () => {
    const r = await blockPaths([root], { stateFile, uid: agentUid });
    expect(r).toMatchObject({ step: 'paths.block', ok: true });
    expect(r.detail).toContain('(0777 → 0755)');
    expect(await modeOf(root)).toBe(0o755);
    expect((await readBlockState(stateFile)).roots[root]).toMatchObject({ originalMode: 0o777, blockedMode: 0o755 });
    expect(await modeOf(stateFile)).toBe(0o600);

    const u = await unblockPaths([root], { stateFile });
    expect(u).toMatchObject({ step: 'paths.unblock', ok: true });
    expect(await modeOf(root)).toBe(0o777);
    expect((await readBlockState(stateFile)).roots).toEqual({});
  });

  it('never changes permissions through a root that is a symlink, on block or on unblock', async () => {
    const elsewhere = path.join(dir, 'elsewhere');
    await mkdir(elsewhere);
    await chmod(elsewhere, 0o777);
    const linked = path.join(dir, 'linked-root');
    await symlink(elsewhere, linked);
    const r = await blockPaths([linked], { stateFile, uid: agentUid, denyTraversal: true });
    expect(r).toMatchObject({ ok: false, detail: expect.stringContaining('is a symlink, so it was not blocked') });
    expect(await modeOf(elsewhere)).toBe(0o777);
    // Blocked while a directory, a symlink by the time of the unblock.
    expect((await blockPaths([root], { stateFile, uid: agentUid })).ok).toBe(true);
    await rm(root, { recursive: true });
    await symlink(elsewhere, root);
    await chmod(elsewhere, 0o700);
    const u = await unblockPaths([root], { stateFile });
    expect(u.detail).toContain('is a symlink now');
    expect(await modeOf(elsewhere)).toBe(0o700);
    expect((await readBlockState(stateFile)).roots).toEqual({});
  });

  it('is idempotent: blocking twice still restores the first original mode', async () => {
    await blockPaths([root], { stateFile, uid: agentUid });
    const again = await blockPaths([root], { stateFile, uid: agentUid });
    expect(again.ok).toBe(true);
    expect(again.detail).toContain('already blocked');
    await unblockPaths([root], { stateFile });
    expect(await modeOf(root)).toBe(0o777);
  });

  it('survives an agent restart: the state file alone is enough to unblock', async () => {
    await blockPaths([root], { stateFile, uid: agentUid });
    const onDisk = JSON.parse(await readFile(stateFile, 'utf8'));
    expect(onDisk.roots[root].originalMode).toBe(0o777);
    // A fresh process knows only the file; nothing in memory is needed.
    const u = await unblockPaths([root], { stateFile });
    expect(u.ok).toBe(true);
    expect(await modeOf(root)).toBe(0o777);
  });

  it('also removes owner write when the root belongs to someone other than the agent', async () => {
    const r = await blockPaths([root], { stateFile, uid: agentUid + 1 });
    expect(r.ok).toBe(true);
    expect(await modeOf(root)).toBe(0o555);
  });

  it('with denyTraversal closes the root to everyone but its owner', async () => {
    await blockPaths([root], { stateFile, uid: agentUid, denyTraversal: true });
    expect(await modeOf(root)).toBe(0o700);
    await unblockPaths([root], { stateFile });
    expect(await modeOf(root)).toBe(0o777);
  });

  it('leaves a root alone on unblock when its mode was changed after blocking', async () => {
    await blockPaths([root], { stateFile, uid: agentUid });
    await chmod(root, 0o750);
    const u = await unblockPaths([root], { stateFile });
    expect(u.ok).toBe(true);
    expect(u.detail).toContain('had been changed to 0750');
    expect(await modeOf(root)).toBe(0o750);
  });

  it('reports a missing root as not blocked, and unblocking a never-blocked root as nothing to do', async () => {
    const missing = path.join(dir, 'not-yet-mirrored');
    const r = await blockPaths([root, missing], { stateFile, uid: agentUid });
    expect(r.ok).toBe(false);
    expect(r.detail).toContain(`Replica root ${missing} does not exist, so it was not blocked`);
    expect(await modeOf(root)).toBe(0o755); // the other root was still blocked
    const other = path.join(dir, 'other');
    await mkdir(other);
    const u = await unblockPaths([other], { stateFile });
    expect(u).toMatchObject({ ok: true });
    expect(u.detail).toContain('was not blocked');
  });

  it('skips an empty list', async () => {
    expect(await blockPaths([], { stateFile })).toMatchObject({ ok: true, skipped: true });
    expect(existsSync(stateFile)).toBe(false);
  });

  it('reports an unreadable state file instead of guessing', async () => {
    await mkdir(path.dirname(stateFile), { recursive: true });
    await writeFile(stateFile, 'not json');
    const r = await unblockPaths([root], { stateFile });
    expect(r.ok).toBe(false);
    expect(r.detail).toContain('state file is unreadable');
  });

  const canSwitchUser = IS_ROOT && spawnSync('setpriv', ['--version']).status === 0;
  it.skipIf(!canSwitchUser)('stops another user from creating files in a blocked root, while the agent still can', async () => {
    const asNobody = (file: string) =>
      spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', 'sh', '-c', `: > '${file}'`]);
    expect(asNobody(path.join(root, 'before')).status).toBe(0); // 0777: anyone could write
    await chown(path.join(root, 'before'), 0, 0);
    await blockPaths([root], { stateFile });
    expect(asNobody(path.join(root, 'during')).status).not.toBe(0);
    await writeFile(path.join(root, 'agent-write'), 'ok'); // the agent (root here) keeps writing
    await unblockPaths([root], { stateFile });
    expect(asNobody(path.join(root, 'after')).status).toBe(0);
  });
});
