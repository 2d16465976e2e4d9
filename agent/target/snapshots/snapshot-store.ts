// Point-in-time snapshots of one replica root on the target (manual 2.14): take, list, delete, revert. Each
// snapshot is a directory <snapshotsDir>/<id>; their metadata is in <snapshotsDir>/index.json.
//
// Layout and limits:
// - snapshotsDir must not be inside the replica root (it would be copied into itself) and is created 0700:
//   a snapshot holds the replica's data, so only the agent (and root) may browse it.
// - btrfs snapshots are read-only and atomic. Copies are only as consistent as the replica while `cp` runs:
//   hold the applier (SnapshotManager's `quiesce`) while copying.
// - Deleting a btrfs snapshot runs `btrfs subvolume delete`, which needs root (or user_subvol_rm_allowed).
import { mkdir, realpath, rename, stat, lstat, chmod, chown, readdir } from 'node:fs/promises';
import path from 'node:path';
import { TandemError } from '../../../shared/errors';
import { isSameOrInside } from '../../../shared/paths';
import { firstLine, runCommand as defaultRunCommand, type RunCommand } from '../../failover/command';
import { readJsonFile, withFileLock, writeJsonFileAtomic } from '../../failover/state-file';
import { errorText, guardStep, type StepResult } from '../../failover/step-result';
import { chooseSnapshotMethod, hostProbe, isBtrfsSubvolume, type BtrfsProbe, type SnapshotMethod } from './btrfs';
import { emptyDir, removeTree, treeBytes } from './tree';

export const INDEX_FILE = 'index.json';
const PARTIAL_PREFIX = '.partial-';

export interface SnapshotRecord {
  id: string;
  /** ms since epoch */
  takenAt: number;
  method: SnapshotMethod;
  /** Apparent size of the files in the snapshot; shared extents (reflink, btrfs) count in full. */
  bytes: number;
  /** Taken by the schedule (true) or on request (false). */
  scheduled: boolean;
}

export interface SnapshotInfo extends SnapshotRecord {
  /** Absolute path of the snapshot's directory. */
  path: string;
}

export interface SnapshotIndex {
  version: 1;
  snapshots: SnapshotRecord[];
}

export type SnapshotStepResult = StepResult & { snapshot?: SnapshotInfo };

export interface SnapshotIoOptions {
  runCommand?: RunCommand;
  probe?: BtrfsProbe;
  /** For `cp` and `btrfs`; default 24 h (a first full copy of a large replica is slow). */
  timeoutMs?: number;
}

export interface TakeSnapshotOptions extends SnapshotIoOptions {
  scheduled?: boolean;
  /** Clock for takenAt; default Date.now. */
  now?: () => number;
}

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const isValidSnapshotId = (id: string) => ID_PATTERN.test(id) && id !== INDEX_FILE;

const DAY_MS = 24 * 3600 * 1000;

export async function readSnapshotIndex(snapshotsDir: string): Promise<SnapshotIndex> {
  const file = path.join(snapshotsDir, INDEX_FILE);
  let raw: unknown;
  try {
    raw = await readJsonFile(file);
  } catch (err) {
    throw new TandemError('snapshot_index_corrupt', `The snapshot index ${file} is unreadable (${errorText(err)}); delete it and the snapshots beside it, or restore it from backup.`, 500);
  }
  if (raw === undefined) return { version: 1, snapshots: [] };
  const index = raw as SnapshotIndex;
  if (index.version !== 1 || !Array.isArray(index.snapshots)) {
    throw new TandemError('snapshot_index_corrupt', `The snapshot index ${file} is not a Tandem snapshot index; delete it and the snapshots beside it.`, 500);
  }
  return index;
}

async function writeIndex(snapshotsDir: string, index: SnapshotIndex): Promise<void> {
  index.snapshots.sort((a, b) => a.takenAt - b.takenAt || (a.id < b.id ? -1 : 1));
  await writeJsonFileAtomic(path.join(snapshotsDir, INDEX_FILE), index);
}

const withInfo = (snapshotsDir: string, r: SnapshotRecord): SnapshotInfo => ({ ...r, path: path.join(snapshotsDir, r.id) });
const exists = (p: string) => stat(p).then(() => true, () => false);
const lockKey = (snapshotsDir: string) => `snapshots:${path.resolve(snapshotsDir)}`;

/** The snapshots in the index whose directories still exist, oldest first. Throws TandemError on a corrupt index. */
export async function listSnapshots(snapshotsDir: string): Promise<SnapshotInfo[]> {
  const dir = path.resolve(snapshotsDir);
  const index = await readSnapshotIndex(dir);
  const present = await Promise.all(index.snapshots.map((r) => exists(path.join(dir, r.id))));
  return index.snapshots.filter((_, i) => present[i]).map((r) => withInfo(dir, r)).sort((a, b) => a.takenAt - b.takenAt);
}

/** Takes a snapshot of `root` named `id` (btrfs read-only subvolume snapshot, or `cp -a --reflink=auto`). */
export function takeSnapshot(root: string, snapshotsDir: string, id: string, opts: TakeSnapshotOptions = {}): Promise<SnapshotStepResult> {
  const dir = path.resolve(snapshotsDir);
  return guardStep('snapshot.take', (timer) => withFileLock(lockKey(dir), async (): Promise<SnapshotStepResult> => {
    if (!isValidSnapshotId(id)) return timer.fail(`"${id}" is not a valid snapshot id (letters, digits, ".", "_", "-"; up to 128 characters).`);
    const run = opts.runCommand ?? defaultRunCommand;
    const probe = opts.probe ?? hostProbe;
    let realRoot: string;
    try {
      if ((await lstat(root)).isSymbolicLink()) return timer.fail(`The replica root ${root} is a symlink; nothing was snapshotted (it would copy what the link points to).`);
      realRoot = await realpath(root);
      if (!(await stat(realRoot)).isDirectory()) return timer.fail(`The replica root ${root} is not a directory; nothing was snapshotted.`);
    } catch (err) {
      return timer.fail(`The replica root ${root} cannot be read (${errorText(err)}); nothing was snapshotted.`);
    }
    let realDir: string;
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      realDir = await realpath(dir);
    } catch (err) {
      return timer.fail(`The snapshots directory ${dir} cannot be created (${errorText(err)}); check the agent's data directory permissions.`);
    }
    if (isSameOrInside(realRoot, realDir)) {
      return timer.fail(`The snapshots directory ${dir} is inside the replica root ${root}; keep snapshots outside the replica.`);
    }
    const index = await readSnapshotIndex(dir);
    const dest = path.join(dir, id);
    if (index.snapshots.some((s) => s.id === id) || (await exists(dest))) return timer.fail(`A snapshot named ${id} already exists; choose another id.`);

    const takenAt = (opts.now ?? Date.now)();
    const timeoutMs = opts.timeoutMs ?? DAY_MS;
    let method = chooseSnapshotMethod(await probe.facts(realRoot), await probe.facts(realDir));
    const notes: string[] = [];
    let output = '';
    if (method === 'btrfs') {
      const result = await run('btrfs', ['subvolume', 'snapshot', '-r', realRoot, dest], { timeoutMs });
      if (result.code !== 0) {
        notes.push(
          result.missing
            ? 'btrfs-progs is not installed, so a copy was made instead of a btrfs snapshot'
            : `btrfs subvolume snapshot failed (${firstLine(result.stderr) || `exit ${result.code}`}), so a copy was made instead`,
        );
        output += result.stderr;
        await removeTree(dest).catch(() => undefined);
        method = 'copy';
      }
    }
    if (method === 'copy') {
      // Copy into a hidden partial directory, then rename: a crash never leaves a half copy that looks complete.
      const partial = path.join(dir, PARTIAL_PREFIX + id);
      await removeTree(partial);
      const result = await run('cp', ['-a', '--reflink=auto', '--', realRoot + '/.', partial], { timeoutMs });
      output += result.stdout + result.stderr;
      if (result.code !== 0) {
        await removeTree(partial).catch(() => undefined);
        const why = result.timedOut ? `did not finish within ${Math.round(timeoutMs / 1000)} s` : firstLine(result.stderr) || `exit ${result.code}`;
        return timer.fail(`Copying ${root} for snapshot ${id} failed (${why}); check free space in ${dir}.`, output || undefined);
      }
      await rename(partial, dest);
    }
    const bytes = await treeBytes(dest);
    const record: SnapshotRecord = { id, takenAt, method, bytes, scheduled: opts.scheduled ?? false };
    index.snapshots.push(record);
    await writeIndex(dir, index);
    const how = method === 'btrfs' ? 'a read-only btrfs snapshot' : 'a copy (cp --reflink=auto)';
    const detail = `Took snapshot ${id} of ${root} as ${how}, ${bytes} bytes of files.` + (notes.length ? ` ${notes.join('; ')}.` : '');
    return { ...timer.ok(detail, output || undefined), snapshot: withInfo(dir, record) };
  }));
}


async function removeSnapshotDir(target: string, method: SnapshotMethod | undefined, run: RunCommand, probe: BtrfsProbe, timeoutMs: number): Promise<string | null> {
  const isSubvolume = method === 'btrfs' || (method === undefined && isBtrfsSubvolume(await probe.facts(target)));
  if (isSubvolume) {
    const result = await run('btrfs', ['subvolume', 'delete', target], { timeoutMs });
    if (result.code !== 0) {
      return result.missing
        ? `btrfs-progs is not installed, so the btrfs snapshot ${target} cannot be deleted; install it and retry`
        : `btrfs subvolume delete ${target} failed (${firstLine(result.stderr) || `exit ${result.code}`}); deleting btrfs snapshots needs root or the user_subvol_rm_allowed mount option`;
    }
    return null;
  }
  await removeTree(target);
  return null;
}

/** Deletes one snapshot and its index entry. */
export function deleteSnapshot(snapshotsDir: string, id: string, opts: SnapshotIoOptions = {}): Promise<StepResult> {
  const dir = path.resolve(snapshotsDir);
  return guardStep('snapshot.delete', (timer) => withFileLock(lockKey(dir), async () => {
    if (!isValidSnapshotId(id)) return timer.fail(`"${id}" is not a valid snapshot id.`);
    const index = await readSnapshotIndex(dir);
    const record = index.snapshots.find((s) => s.id === id);
    const target = path.join(dir, id);
    if (!record && !(await exists(target))) return timer.fail(`There is no snapshot ${id}; list the snapshots to see valid ids.`);
    const problem = await removeSnapshotDir(target, record?.method, opts.runCommand ?? defaultRunCommand, opts.probe ?? hostProbe, opts.timeoutMs ?? DAY_MS);
    if (problem) return timer.fail(problem + '.');
    if (record) {
      index.snapshots = index.snapshots.filter((s) => s.id !== id);
      await writeIndex(dir, index);
    }
    return timer.ok(`Deleted snapshot ${id}.`);
  }));
}

/**
 * Deletes every snapshot in snapshotsDir, indexed or not (also leftovers of interrupted copies), then the index
 * and the directory. The manual: stopping a job deletes its snapshots. Works even when the index is corrupt.
 */
export function deleteAllSnapshots(snapshotsDir: string, opts: SnapshotIoOptions = {}): Promise<StepResult> {
  const dir = path.resolve(snapshotsDir);
  return guardStep('snapshot.deleteAll', (timer) => withFileLock(lockKey(dir), async () => {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return timer.skip('There are no snapshots to delete.');
      throw err;
    }
    let records: SnapshotRecord[] = [];
    try {
      records = (await readSnapshotIndex(dir)).snapshots;
    } catch { /* corrupt index: fall back to probing each directory */ }
    const methods = new Map(records.map((s) => [s.id, s.method]));
    const run = opts.runCommand ?? defaultRunCommand;
    const probe = opts.probe ?? hostProbe;
    const deleted: string[] = [];
    const failures: string[] = [];
    for (const name of names) {
      const target = path.join(dir, name);
      if (name === INDEX_FILE || name.startsWith(`.${INDEX_FILE}.`)) continue;
      try {
        if (!(await stat(target)).isDirectory()) continue;
        const problem = await removeSnapshotDir(target, methods.get(name), run, probe, opts.timeoutMs ?? DAY_MS);
        if (problem) failures.push(problem);
        else if (!name.startsWith(PARTIAL_PREFIX)) deleted.push(name);
      } catch (err) {
        failures.push(`could not delete ${target} (${errorText(err)})`);
      }
    }
    if (failures.length) {
      // Keep the index for what is left, so a retry still knows which directories are btrfs snapshots.
      const left = new Set(await readdir(dir));
      await writeIndex(dir, { version: 1, snapshots: records.filter((r) => left.has(r.id)) }).catch(() => undefined);
      return timer.fail(`${deleted.length} snapshot(s) deleted, but: ${failures.join('; ')}.`);
    }
    await removeTree(dir);
    return timer.ok(deleted.length ? `Deleted ${deleted.length} snapshot(s): ${deleted.join(', ')}.` : 'There were no snapshots to delete.');
  }));
}

/**
 * Rolls the replica root back to a snapshot: empties the root, then copies the snapshot in (cp -a --reflink=auto,
 * cheap where extents can be shared). The root directory keeps its own mode and owner (blocking is managed
 * separately). Not atomic: if it fails part-way, run it again. Afterwards the target data state is snapshot_reverted.
 * The applier must be stopped (it is, after failover).
 */
export function revertToSnapshot(root: string, snapshot: Pick<SnapshotInfo, 'id' | 'path'>, opts: Pick<SnapshotIoOptions, 'runCommand' | 'timeoutMs'> = {}): Promise<StepResult> {
  return guardStep('snapshot.revert', (timer) => withFileLock(lockKey(path.dirname(path.resolve(snapshot.path))), async () => {
    let realRoot: string;
    let realSnapshot: string;
    try {
      realSnapshot = await realpath(snapshot.path);
      if (!(await stat(realSnapshot)).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    } catch (err) {
      return timer.fail(`Snapshot ${snapshot.id} at ${snapshot.path} cannot be read (${errorText(err)}); nothing was changed. List the snapshots and pick one that exists.`);
    }
    try {
      // Never through a link at the root itself: emptying it would empty whatever it points to.
      if ((await lstat(root)).isSymbolicLink()) return timer.fail(`The replica root ${root} is a symlink; nothing was changed (reverting would empty what it points to).`);
      realRoot = await realpath(root);
    } catch (err) {
      return timer.fail(`The replica root ${root} cannot be read (${errorText(err)}); nothing was changed.`);
    }
    if (realRoot === '/' || isSameOrInside(realRoot, realSnapshot) || isSameOrInside(realSnapshot, realRoot)) {
      return timer.fail(`Refusing to revert ${root} to ${snapshot.path}: one contains the other. Nothing was changed.`);
    }
    const rootInfo = await stat(realRoot);
    if (!rootInfo.isDirectory()) return timer.fail(`The replica root ${root} is not a directory; nothing was changed.`);
    const run = opts.runCommand ?? defaultRunCommand;
    await emptyDir(realRoot);
    const result = await run('cp', ['-a', '--reflink=auto', '--', realSnapshot + '/.', realRoot], { timeoutMs: opts.timeoutMs ?? DAY_MS });
    // Whatever the snapshot's top directory had, the root keeps its own mode and owner.
    await chmod(realRoot, rootInfo.mode & 0o7777);
    if (process.getuid?.() === 0) await chown(realRoot, rootInfo.uid, rootInfo.gid);
    const output = (result.stdout + result.stderr) || undefined;
    if (result.code !== 0) {
      return timer.fail(
        `Reverting ${root} to snapshot ${snapshot.id} failed part-way (${firstLine(result.stderr) || `exit ${result.code}`}); the replica is incomplete. Fix the cause (often free space) and revert again.`,
        output,
      );
    }
    return timer.ok(`Reverted ${root} to snapshot ${snapshot.id}; the target data state is now snapshot_reverted.`, output);
  }));
}

