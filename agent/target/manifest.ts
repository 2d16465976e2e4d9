// The target's half of a mirror or verify: for each source entry, what it needs (nothing, metadata, whole file,
// or block hashes for a delta), plus orphan handling for each directory the source listed.
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import fss from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ManifestEntry, FileMeta } from '../../shared/protocol/ops';
import type { BlockHashesAnswer, BlockHashesRequest, ManifestAnswer, ManifestRequest, Need } from '../../shared/protocol/data-port';
import { chooseBlockSize, hashFile } from '../../shared/delta';
import { isSameOrInside, joinAbsolute } from '../../shared/paths';
import { TandemError } from '../../shared/errors';
import { isTempName, type ReplicaFs } from './replica-fs';
import { DirNameParts } from './dir-name-parts';

const IS_ROOT = process.getuid?.() === 0;
const sameTime = (a: number, b: number) => Math.floor(a) === Math.floor(b);

function metaDiffers(st: import('node:fs').Stats, meta: FileMeta, isLink: boolean): boolean {
  if (!sameTime(st.mtimeMs, meta.mtimeMs)) return true;
  if (!isLink && (st.mode & 0o7777) !== (meta.mode & 0o7777)) return true;
  if (IS_ROOT && (st.uid !== meta.uid || st.gid !== meta.gid)) return true;
  return false;
}

function lstatOrNull(p: string): import('node:fs').Stats | null {
  try {
    return fss.lstatSync(p, { throwIfNoEntry: false }) ?? null;
  } catch {
    return null;
  }
}

async function needFor(replica: ReplicaFs, req: ManifestRequest, e: ManifestEntry): Promise<Need> {
  const target = await replica.resolve(e.path);
  // Synchronous lstat/readlink: metadata lookups are far cheaper than a thread-pool trip each.
  const st = lstatOrNull(target);
  if (e.type === 'dir') {
    if (!st?.isDirectory()) return { action: 'mkdir', reason: st ? 'not_a_directory' : 'missing' };
    return metaDiffers(st, e.meta, false) ? { action: 'mkdir', reason: 'metadata' } : { action: 'skip', reason: 'identical' };
  }
  if (e.linkOf) {
    const first = lstatOrNull(await replica.resolve(e.linkOf));
    if (st && first && st.ino === first.ino && st.dev === first.dev) return { action: 'skip', reason: 'identical' };
    return { action: 'hardlink', reason: 'link' };
  }
  if (e.type === 'symlink') {
    if (!st?.isSymbolicLink()) return { action: 'symlink', reason: st ? 'not_a_symlink' : 'missing' };
    if (fss.readlinkSync(target) !== e.target) return { action: 'symlink', reason: 'link_target' };
    return metaDiffers(st, e.meta, true) && req.mode === 'all' ? { action: 'symlink', reason: 'metadata' } : { action: 'skip', reason: 'identical' };
  }
  if (!st?.isFile()) return { action: 'whole', reason: st ? 'not_a_file' : 'missing' };
  if (req.newerOnly && st.mtimeMs >= e.meta.mtimeMs && !sameTime(st.mtimeMs, e.meta.mtimeMs)) return { action: 'skip', reason: 'target_newer' };
  const sameData = !e.checkContent && st.size === e.size && sameTime(st.mtimeMs, e.meta.mtimeMs);
  if (req.mode === 'different' && sameData && !req.blockChecksum) {
    return metaDiffers(st, e.meta, false) ? { action: 'meta', reason: 'metadata' } : { action: 'skip', reason: 'identical' };
  }
  if (req.mode === 'different' && sameData && req.purpose === 'mirror') {
    return metaDiffers(st, e.meta, false) ? { action: 'meta', reason: 'metadata' } : { action: 'skip', reason: 'identical' };
  }
  if (req.blockChecksum && st.size > 0 && e.size > 0) {
    const blockSize = chooseBlockSize(e.size);
    const reason = sameData ? 'verify_blocks' : 'size_or_time';
    // A large file's digests are asked for separately, while the source hashes its own copy (see deferHashesFrom).
    if (req.deferHashesFrom !== undefined && e.size >= req.deferHashesFrom) return { action: 'blocks', reason, blockSize, fileSize: st.size };
    const h = await hashFile(target, { blockSize });
    return { action: 'blocks', reason, blockSize, fileSize: h.fileSize, digests: h.digests.toString('base64') };
  }
  if (sameData && req.purpose === 'verify') return { action: 'skip', reason: 'identical' };
  return { action: 'whole', reason: sameData ? 'mirror_all' : 'size_or_time' };
}

interface Orphan {
  sourcePath: string;
  victim: string;
}

/** Lists what the target has in each listed directory that the source does not (and may be touched). */
async function findOrphans(replica: ReplicaFs, req: ManifestRequest): Promise<Orphan[]> {
  const found: Orphan[] = [];
  for (const d of req.dirs) {
    const targetDir = await replica.resolve(d.path);
    // Only a real directory is listed: a symlink at that path on the target is never followed (its orphans would be
    // another folder's files, anywhere on this host).
    if (!lstatOrNull(targetDir)?.isDirectory()) continue;
    let names: string[];
    try {
      names = fss.readdirSync(targetDir);
    } catch {
      continue;
    }
    const present = new Set(d.names);
    for (const name of names) {
      if (present.has(name) || isTempName(name)) continue;
      const sourcePath = joinAbsolute(d.path, name);
      // An excluded source path keeps its target copy (manual: exclude rules protect files from orphan deletion).
      if (replica.matcher.isProtectedFromOrphanDeletion(sourcePath)) continue;
      const victim = path.posix.join(targetDir, name);
      if (req.orphans.moveTo && isSameOrInside(victim, req.orphans.moveTo)) continue;
      found.push({ sourcePath, victim });
    }
  }
  return found;
}

async function handleOrphans(replica: ReplicaFs, req: ManifestRequest, orphans: Orphan[], out: ManifestAnswer['orphans']): Promise<void> {
  for (const { sourcePath, victim } of orphans) {
    // Resolved again in the applier's turn: a directory above it may have become a symlink since it was listed.
    if ((await replica.resolve(sourcePath).catch(() => null)) !== victim) continue;
    out.found++;
    if (out.paths.length < 1000) out.paths.push(sourcePath);
    if (req.purpose === 'verify' || req.orphans.action === 'keep') {
      out.kept++;
    } else if (req.orphans.action === 'delete') {
      await removeOrphan(replica, sourcePath, victim);
      replica.forgetDirs();
      out.removed++;
    } else {
      if (!req.orphans.moveTo) throw new TandemError('orphans_move_to_missing', 'Orphans are set to move but no moveTo folder is configured.');
      await moveOrphan(replica, sourcePath, victim, req.orphans.moveTo);
      replica.forgetDirs();
      out.moved++;
    }
  }
}

/**
 * An orphan directory may hold files an exclude rule protects (manual: excluded files are never deleted as
 * orphans): then it is gone through name by name, protected names stay (with the directories leading to them).
 */
const mustLookInside = (replica: ReplicaFs, sourcePath: string, victim: string): boolean =>
  replica.matcher.mayContainExcluded(sourcePath) && !!lstatOrNull(victim)?.isDirectory();

/** Removes an orphan, except what exclude rules protect inside it. True when nothing of it is left. */
async function removeOrphan(replica: ReplicaFs, sourcePath: string, victim: string): Promise<boolean> {
  if (!mustLookInside(replica, sourcePath, victim)) {
    await fs.rm(victim, { recursive: true, force: true });
    return true;
  }
  let kept = false;
  for (const name of await fs.readdir(victim)) {
    const child = joinAbsolute(sourcePath, name);
    if (replica.matcher.isProtectedFromOrphanDeletion(child) || !(await removeOrphan(replica, child, path.posix.join(victim, name)))) kept = true;
  }
  if (!kept) await fs.rmdir(victim);
  return !kept;
}

const execFileAsync = promisify(execFile);

/**
 * A rename, or where `moveTo` is on another file system (EXDEV) a copy with everything a rename keeps (`cp -a`: modes,
 * owners, times, links inside) and then the removal. A copy that fails leaves the orphan where it was.
 */
async function moveAcross(from: string, to: string): Promise<void> {
  try {
    await fs.rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    try {
      await execFileAsync('cp', ['-a', '--no-target-directory', '--', from, to]);
    } catch (cpErr) {
      throw new TandemError('orphans_move_failed', `Moving the orphan "${from}" to "${to}" (another file system) failed: ${((cpErr as { stderr?: string }).stderr || (cpErr as Error).message).trim()}. The orphan stays where it is; check the space and permissions of orphans.moveTo.`, 500);
    }
    await fs.rm(from, { recursive: true, force: true });
  }
}

/** Moves an orphan under `moveTo` at its source path, except what exclude rules protect inside it. */
async function moveOrphan(replica: ReplicaFs, sourcePath: string, victim: string, moveTo: string): Promise<void> {
  const dest = joinAbsolute(moveTo, sourcePath.slice(1));
  if (!mustLookInside(replica, sourcePath, victim)) {
    await fs.mkdir(path.posix.dirname(dest), { recursive: true });
    await fs.rm(dest, { recursive: true, force: true });
    await moveAcross(victim, dest);
    return;
  }
  for (const name of await fs.readdir(victim)) {
    const child = joinAbsolute(sourcePath, name);
    if (!replica.matcher.isProtectedFromOrphanDeletion(child)) await moveOrphan(replica, child, path.posix.join(victim, name), moveTo);
  }
  try {
    await fs.rmdir(victim);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOTEMPTY' && (err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // Left where it is: something protected stays inside.
  }
}

/**
 * Answers a manifest batch. Reading (what each entry needs, which orphans exist) runs alongside the job's
 * applier, so the source can exchange the next batch's manifest while the current one streams; removing or
 * moving orphans runs inside `exclusive`, like any other change to the replica.
 */
export async function answerManifest(
  replica: ReplicaFs, req: ManifestRequest, exclusive: <T>(fn: () => Promise<T>) => Promise<T> = (fn) => fn(),
  parts: DirNameParts = new DirNameParts(),
): Promise<ManifestAnswer> {
  const needs: Need[] = [];
  for (const e of req.entries) needs.push(await needFor(replica, req, e));
  const out = { found: 0, removed: 0, moved: 0, kept: 0, paths: [] as string[] };
  // A directory's listing is complete with its part that has no `more`: only then are its orphans looked for.
  const dirs: ManifestRequest['dirs'] = [];
  for (const d of req.dirs) {
    if (d.more) parts.hold(req.mirrorId, d.path, d.names);
    else dirs.push({ path: d.path, names: parts.complete(req.mirrorId, d.path, d.names) });
  }
  const orphans = await findOrphans(replica, { ...req, dirs });
  const changes = orphans.length > 0 && req.purpose === 'mirror' && req.orphans.action !== 'keep';
  if (changes) await exclusive(() => handleOrphans(replica, req, orphans, out));
  else await handleOrphans(replica, req, orphans, out);
  return { needs, orphans: out };
}

/**
 * The digests of one replica file, asked for after a manifest answer deferred them: the path is resolved inside the
 * replica root like any other (refused otherwise); no regular file there reads as an empty one.
 */
export async function answerBlockHashes(replica: ReplicaFs, req: BlockHashesRequest): Promise<BlockHashesAnswer> {
  const target = await replica.resolve(req.path);
  const none = { fileSize: 0, digests: '' };
  if (!lstatOrNull(target)?.isFile()) return none;
  try {
    const h = await hashFile(target, { blockSize: req.blockSize });
    return { fileSize: h.fileSize, digests: h.digests.toString('base64') };
  } catch (err) {
    // Replaced by a link or removed since the lstat (hashFile never follows a link).
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ELOOP') return none;
    throw err;
  }
}
