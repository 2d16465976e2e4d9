// Applies file operations to the replica: whole files via temp + fsync + rename, ranges in place, metadata last.
//
// Speed: the mirror and replication apply many small operations, and each asynchronous fs call costs a trip
// through libuv's thread pool (tens of microseconds, and a queue behind any fsync in flight). Calls that
// only touch metadata or the page cache are therefore made synchronously; calls that take a directory's lock
// (create, mkdir, rename), large writes and every fsync stay asynchronous. A mirror submits its operations to
// a PathScheduler, so files in different directories are created, synced and renamed at the same time.
import { createHash } from 'node:crypto';
import fss from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { FileMeta, FileOp } from '../../shared/protocol/ops';
import { TandemError } from '../../shared/errors';
import { payloadLength, type Payload } from '../../shared/protocol/frames';
import { TEMP_PREFIX, lstatOrNull, type ReplicaFs } from './replica-fs';
import { isSameOrInside } from '../../shared/paths/absolute-path';
import { PathScheduler } from './path-scheduler';
import type { GroupSync } from './group-sync';

const IS_ROOT = process.getuid?.() === 0;
/** The soft limit on open files (Node raises it to the hard limit at start-up); 1024 when it cannot be read. */
export function openFileLimit(limits = '/proc/self/limits'): number {
  try {
    const line = fss.readFileSync(limits, 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = Number(line?.slice('Max open files'.length).trim().split(/\s+/)[0]);
    return Number.isFinite(soft) && soft > 0 ? soft : 1024;
  } catch {
    return 1024;
  }
}

/**
 * Operations of a mirror batch admitted at once. A whole file keeps its place from its first chunk until the group
 * sync before its rename, so this is the number of files that can wait for one syncfs together: with 64 the target
 * stopped reading the stream while they waited; 512 mirrored the 20,000-file benchmark 25-35% faster than 64, and
 * 2,048 (with 128 MiB) about 10% faster than 512 (won all eight alternating pairs). Each waiting file holds one
 * descriptor: at most a quarter of the process's limit, so several mirrors at once stay clear of it.
 */
export function concurrentOpsFor(fileLimit: number): number {
  return Math.max(64, Math.min(2048, Math.floor(fileLimit / 4)));
}
const MAX_CONCURRENT_OPS = concurrentOpsFor(openFileLimit());
/** Payload bytes those operations may hold in memory. */
const MAX_CONCURRENT_BYTES = 128 * 1024 * 1024;
/** Writes up to this size are made synchronously (page cache copy); larger ones go through the thread pool. */
const SYNC_WRITE_MAX = 1024 * 1024;
/** A time set here is the source's to the microsecond (see utimeOf); anything further off is another time. */
const MTIME_SLACK_MS = 0.002;

const fdatasync = promisify(fss.fdatasync);
const fsync = promisify(fss.fsync);
const openAsync = promisify(fss.open) as (p: string, flags: string | number) => Promise<number>;
const renameAsync = promisify(fss.rename);
const mkdirAsync = promisify(fss.mkdir);
const writevAsync = (fd: number, bufs: Buffer[], pos: number) =>
  new Promise<number>((resolve, reject) => fss.writev(fd, bufs, pos, (err, n) => (err ? reject(err) : resolve(n))));
const writeAsync = (fd: number, buf: Buffer, off: number, len: number, pos: number) =>
  new Promise<number>((resolve, reject) => fss.write(fd, buf, off, len, pos, (err, n) => (err ? reject(err) : resolve(n))));

export function tempPathFor(target: string): string {
  const h = createHash('sha1').update(path.posix.basename(target)).digest('hex').slice(0, 20);
  return path.posix.join(path.posix.dirname(target), `${TEMP_PREFIX}${h}.part`);
}

/**
 * A time for utimes: seconds as a double, which libuv truncates to whole microseconds. A time on an exact
 * millisecond (the kernel's coarse clock gives those) is a hair below it as a double and would land a microsecond
 * early, in the previous millisecond; half a microsecond more makes the truncation round to the nearest instead.
 */
export const utimeOf = (mtimeMs: number): number | Date =>
  // Node takes a negative number of seconds for "now" (a file from before 1970 would get today's time, and differ from
  // its source in every later comparison); a Date is set as it is, to the millisecond, the one a comparison looks at.
  mtimeMs < 0 ? new Date(Math.floor(mtimeMs)) : (mtimeMs + 0.0005) / 1000;

/**
 * A new, empty temp file for a whole file. Created exclusively: whatever stands at its name (a leftover of an
 * interrupted transfer, or a symlink the source planted there to have the file written elsewhere) is removed
 * first, never opened, so the data can only land in a file this call created inside the replica.
 */
async function openNewTemp(tmp: string): Promise<number> {
  const flags = fss.constants.O_WRONLY | fss.constants.O_CREAT | fss.constants.O_EXCL | fss.constants.O_NOFOLLOW;
  try {
    return await openAsync(tmp, flags);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    removeAny(tmp);
    return openAsync(tmp, flags);
  }
}

/** Owner (as root), mode and times of a path; a symlink gets owner and times only. */
export function applyMeta(target: string, meta: FileMeta, isLink = false): void {
  const t = utimeOf(meta.mtimeMs);
  if (isLink) {
    if (IS_ROOT) fss.lchownSync(target, meta.uid, meta.gid);
    fss.lutimesSync(target, t, t);
    return;
  }
  if (IS_ROOT) fss.chownSync(target, meta.uid, meta.gid);
  fss.chmodSync(target, meta.mode & 0o7777);
  fss.utimesSync(target, t, t);
}

function applyMetaFd(fd: number, meta: FileMeta): void {
  const t = utimeOf(meta.mtimeMs);
  if (IS_ROOT) fss.fchownSync(fd, meta.uid, meta.gid);
  fss.fchmodSync(fd, meta.mode & 0o7777);
  fss.futimesSync(fd, t, t);
}

/** A write or truncate found something other than a regular file at its path (a symlink, a directory, a FIFO). */
function notAFile(target: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`"${target}" is not a regular file on the target; the operation was not applied through it`), { code: 'not_a_file' });
}

/** Failures that come from what the replica holds at the operation's path, not from the target itself. */
const CONFLICT_CODES = new Set(['ENOTDIR', 'EISDIR', 'EEXIST', 'ENOTEMPTY', 'ENOENT', 'ELOOP', 'EINVAL', 'ENAMETOOLONG', 'EFBIG', 'not_a_file']);

/**
 * An operation the replica's state did not allow (a file where a directory goes, a directory where a file is written,
 * a name too long) becomes a 409 naming the operation, instead of an internal error; a failure of the target itself
 * (a full disk, an I/O error) stays what it is.
 */
export function asOpConflict(op: FileOp, err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (err instanceof TandemError || typeof code !== 'string' || !CONFLICT_CODES.has(code)) return err;
  return new TandemError('op_conflict', `The target could not apply ${op.op} of "${op.path.slice(0, 500)}" to what its replica holds there: ${(err as Error).message}.`, 409);
}

/**
 * The target's own file system full (or its user's quota used up) becomes a 507 that says where and what to do: a bare
 * ENOSPC reached the source as an internal error of an unnamed peer. `roots`: the job's replica roots on this target.
 */
export function asOutOfSpace(err: unknown, roots: readonly string[]): unknown {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (err instanceof TandemError || (code !== 'ENOSPC' && code !== 'EDQUOT')) return err;
  const what = code === 'EDQUOT' ? 'the disk quota of the agent\'s user is used up' : 'no space is left';
  const where = roots.length ? roots.map((r) => `"${r}"`).join(', ') : 'the replica';
  return new TandemError('target_out_of_space', `The target cannot write the replica: ${what} on the file system of ${where}. Free space there or grow the volume; the mirror retries by itself and goes on from where it stopped.`, 507);
}

function removeAny(p: string): void {
  fss.rmSync(p, { recursive: true, force: true });
}

/** The pieces left after the first `skip` bytes (a short writev). */
function afterBytes(parts: readonly Buffer[], skip: number): Buffer[] {
  const rest: Buffer[] = [];
  for (const b of parts) {
    if (skip >= b.length) { skip -= b.length; continue; }
    rest.push(skip > 0 ? b.subarray(skip) : b);
    skip = 0;
  }
  return rest;
}

async function writeAll(fd: number, payload: Payload, position: number): Promise<void> {
  if (!Buffer.isBuffer(payload)) {
    if (payload.length === 1) return writeAll(fd, payload[0]!, position);
    let parts: readonly Buffer[] = payload;
    let left = payloadLength(parts);
    while (left > 0) {
      const n = left <= SYNC_WRITE_MAX ? fss.writevSync(fd, parts as Buffer[], position) : await writevAsync(fd, parts as Buffer[], position);
      left -= n;
      position += n;
      if (left > 0) parts = afterBytes(parts, n);
    }
    return;
  }
  let done = 0;
  while (done < payload.length) {
    const len = payload.length - done;
    done += len <= SYNC_WRITE_MAX ? fss.writeSync(fd, payload, done, len, position + done) : await writeAsync(fd, payload, done, len, position + done);
  }
}

/** A whole file being received into its temp file. */
interface Incoming {
  fd: number;
  tmp: string;
  next: number;
  /** Bytes written since the last background flush started. */
  unflushed: number;
  /** A background fdatasync in progress, so the final one has little left to write. */
  flushing: Promise<void> | null;
}

/** A large file is flushed in the background every this many bytes while it arrives. */
const BACKGROUND_FLUSH_BYTES = 64 * 1024 * 1024;

function startBackgroundFlush(inc: Incoming): void {
  if (inc.flushing || inc.unflushed < BACKGROUND_FLUSH_BYTES) return;
  inc.unflushed = 0;
  // Errors here are not lost: the final fdatasync reports the same failure.
  inc.flushing = fdatasync(inc.fd).catch(() => {}).finally(() => { inc.flushing = null; });
}

/** Source paths an operation touches, for ordering concurrent operations. */
export function opPaths(op: FileOp): string[] {
  if (op.op === 'rename') return [op.path, op.from];
  if (op.op === 'hardlink') return [op.path, op.existing];
  return [op.path];
}

/** One batch of operations: applied in order (or concurrently where order cannot matter), then commit() makes all of it durable. */
export class ApplySession {
  /** Files written in place during the batch, fsynced before the batch is acknowledged. */
  private handles = new Map<string, number>();
  private incoming = new Map<string, Incoming>();
  /** Directories known to exist in this batch (no mkdir needed). */
  private knownDirs = new Set<string>();
  private scheduler = new PathScheduler({ maxTasks: MAX_CONCURRENT_OPS, maxBytes: MAX_CONCURRENT_BYTES });
  readonly dirtyDirs = new Set<string>();

  /** `groupSync`: whole files are made durable together (one syncfs) instead of one fdatasync each. */
  constructor(private replica: ReplicaFs, private groupSync?: GroupSync) {}

  /** Makes a written file durable before it is renamed into place. */
  private async syncWholeFile(fd: number, tmp: string): Promise<void> {
    if (this.groupSync && (await this.groupSync.request(String(fss.fstatSync(fd).dev), path.posix.dirname(tmp)))) return;
    await fdatasync(fd);
  }

  private async ensureParent(target: string): Promise<void> {
    const dir = path.posix.dirname(target);
    if (!this.knownDirs.has(dir)) {
      await this.makeDirs(dir);
      this.knownDirs.add(dir);
    }
    this.dirtyDirs.add(dir);
  }

  /**
   * Creates `dir` and its parents. The source has a directory wherever an op puts something inside, so a file standing
   * at one of those places on the target is a stale copy and is replaced (else the op, and all after it, would fail for
   * good with ENOTDIR). That includes a replica root the source has turned from a file into a directory. A symlink
   * there is never replaced nor followed (the replica check refuses it), nor is anything above a replica root.
   */
  private async makeDirs(dir: string): Promise<void> {
    try {
      await mkdirAsync(dir, { recursive: true });
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTDIR' && code !== 'EEXIST') throw err;
      let existing = dir;
      while (!lstatOrNull(existing)) existing = path.posix.dirname(existing);
      const st = lstatOrNull(existing)!;
      const inReplica = this.replica.roots.some((r) => isSameOrInside(r.targetPath, existing));
      if (st.isDirectory() || st.isSymbolicLink() || !inReplica) throw err;
      removeAny(existing);
      this.forget();
    }
    await mkdirAsync(dir, { recursive: true });
  }

  /** Something may have turned a directory into something else: forget what we learnt about the tree. */
  private forget(): void {
    this.knownDirs.clear();
    this.replica.forgetDirs();
  }

  /**
   * The open handle for a write or truncate on the file at `target`. Never through a symlink (O_NOFOLLOW: a link
   * there may point anywhere on this machine) and never into anything but a regular file. With `create` (a rewrite
   * in place starts here) whatever else stands at the path is replaced by a new empty file; without it the op is
   * refused as `not_a_file`, which the caller treats like a missing file (the source is asked to send it again).
   */
  private async handle(target: string, create: boolean): Promise<number> {
    let fd = this.handles.get(target);
    if (fd !== undefined) return fd;
    const { O_RDWR, O_CREAT, O_NOFOLLOW } = fss.constants;
    try {
      fd = fss.openSync(target, O_RDWR | O_NOFOLLOW);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ELOOP' && code !== 'EISDIR') throw err;
      if (!create) throw code === 'ENOENT' ? err : notAFile(target);
      if (code === 'ENOENT') await this.ensureParent(target);
      else { removeAny(target); this.forget(); }
      fd = await openAsync(target, O_RDWR | O_CREAT | O_NOFOLLOW);
    }
    if (!fss.fstatSync(fd).isFile()) {
      fss.closeSync(fd);
      if (!create) throw notAFile(target);
      removeAny(target);
      this.forget();
      fd = await openAsync(target, O_RDWR | O_CREAT | O_NOFOLLOW);
    }
    this.handles.set(target, fd);
    return fd;
  }

  private async closeHandle(target: string, sync: boolean): Promise<void> {
    const fd = this.handles.get(target);
    if (fd === undefined) return;
    this.handles.delete(target);
    try {
      if (sync) await fdatasync(fd);
    } finally {
      fss.closeSync(fd);
    }
  }

  /** Closes the handle on `target` and every handle below it (when it is a directory). */
  private async closeHandlesAt(target: string, sync: boolean): Promise<void> {
    await this.closeHandle(target, sync);
    const below = `${target}/`;
    for (const open of [...this.handles.keys()]) if (open.startsWith(below)) await this.closeHandle(open, sync);
  }

  private async dropIncoming(target: string): Promise<void> {
    const inc = this.incoming.get(target);
    if (!inc) return;
    this.incoming.delete(target);
    await inc.flushing;
    fss.closeSync(inc.fd);
    removeAny(inc.tmp);
  }

  /** Whole-file content: chunks go to a temp file; the last one syncs it, sets metadata and renames it into place. */
  private async writeWholeFile(op: Extract<FileOp, { op: 'file' }>, target: string, payload: Payload): Promise<void> {
    const bytes = payloadLength(payload);
    let inc = this.incoming.get(target);
    if (op.offset === 0) {
      if (inc) await this.dropIncoming(target);
      await this.closeHandle(target, false);
      await this.ensureParent(target);
      const tmp = tempPathFor(target);
      inc = { fd: await openNewTemp(tmp), tmp, next: 0, unflushed: 0, flushing: null };
      this.incoming.set(target, inc);
    } else if (!inc) {
      // Continuation of a file begun in an earlier batch (replication chunks): the temp file must hold the bytes
      // before this chunk. It may hold more: chunks written after the last acknowledged one by an agent that was
      // killed before it could record them; the source resends from the acknowledged one, so those go again.
      const tmp = tempPathFor(target);
      // Only a regular file of ours, never through a link standing at its name (lstat, then O_NOFOLLOW).
      const st = lstatOrNull(tmp);
      if (!st?.isFile() || st.size < op.offset) {
        throw new TandemError('file_chunk_gap', `Chunk at ${op.offset} of "${op.path}" does not follow the ${st?.isFile() ? st.size : 0} bytes received; resend the file.`, 409);
      }
      const fd = fss.openSync(tmp, fss.constants.O_RDWR | fss.constants.O_NOFOLLOW);
      if (st.size > op.offset) fss.ftruncateSync(fd, op.offset);
      inc = { fd, tmp, next: op.offset, unflushed: 0, flushing: null };
      this.incoming.set(target, inc);
    } else if (inc.next !== op.offset) {
      await this.dropIncoming(target);
      throw new TandemError('file_chunk_gap', `Chunk at ${op.offset} of "${op.path}" does not follow the ${inc.next} bytes received; resend the file.`, 409);
    }
    try {
      await writeAll(inc.fd, payload, op.offset);
    } catch (err) {
      await this.dropIncoming(target);
      throw err;
    }
    inc.next = op.offset + bytes;
    inc.unflushed += bytes;
    if (!op.final) {
      startBackgroundFlush(inc);
      return;
    }
    this.incoming.delete(target);
    await inc.flushing;
    try {
      if (inc.next !== op.size) fss.ftruncateSync(inc.fd, op.size);
      applyMetaFd(inc.fd, op.meta);
      await this.syncWholeFile(inc.fd, inc.tmp);
    } catch (err) {
      fss.closeSync(inc.fd);
      removeAny(inc.tmp);
      throw err;
    } 
    fss.closeSync(inc.fd);
    try {
      await renameAsync(inc.tmp, target);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EISDIR' && code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
      removeAny(target); // a directory where the file goes: the source has a file there now
      this.forget();
      await renameAsync(inc.tmp, target);
    }
    this.dirtyDirs.add(path.posix.dirname(target));
  }

  /**
   * Admits an operation to run concurrently with others that touch unrelated paths (a mirror batch).
   * Resolves once admitted; `settled` hears the outcome (no error = applied). commit() waits for everything admitted.
   */
  submit(op: FileOp, payload: Payload, settled: (err?: unknown) => void): Promise<void> {
    return this.scheduler.submit({ paths: opPaths(op), bytes: payloadLength(payload), run: () => this.run(op, payload).then(() => settled(), settled) });
  }

  /** Applies one operation after everything submitted before it (in-order replication). */
  async apply(op: FileOp, payload: Payload): Promise<void> {
    await this.scheduler.drain();
    await this.run(op, payload);
  }

  private async run(op: FileOp, payload: Payload): Promise<void> {
    if (op.op === 'file') return this.writeWholeFile(op, await this.replica.resolve(op.path), payload);
    if (op.op === 'rename') {
      const from = await this.replica.resolve(op.from);
      const to = await this.replica.resolve(op.path);
      // Open handles below a renamed (or replaced) directory name files that are no longer there.
      await this.closeHandlesAt(from, true);
      await this.closeHandlesAt(to, false);
      await this.ensureParent(to);
      removeAny(to);
      fss.renameSync(from, to);
      this.dirtyDirs.add(path.posix.dirname(from));
      this.forget();
      return;
    }
    const target = await this.replica.resolve(op.path);
    switch (op.op) {
      case 'mkdir': {
        const st = lstatOrNull(target);
        if (st && !st.isDirectory()) { removeAny(target); this.forget(); }
        if (!st || !st.isDirectory()) {
          await this.ensureParent(target);
          await mkdirAsync(target, { recursive: true });
        }
        this.knownDirs.add(target);
        applyMeta(target, op.meta);
        return;
      }
      case 'write': {
        // Never into a file the target lacks: that would make a sparse file of zeros and these bytes. Its content has
        // to come whole (a whole-file op, or a rewrite in place that starts with a truncate to 0).
        const fd = await this.handle(target, false);
        await writeAll(fd, payload, op.offset);
        return;
      }
      case 'truncate': {
        // A truncate to 0 starts a rewrite in place and may create the file; any other size needs the file there.
        fss.ftruncateSync(await this.handle(target, op.size === 0), op.size);
        return;
      }
      case 'symlink': {
        await this.closeHandle(target, false);
        const tmp = tempPathFor(target);
        await this.ensureParent(target);
        removeAny(tmp);
        fss.symlinkSync(op.target, tmp);
        if (op.meta) applyMeta(tmp, op.meta, true);
        const st = fss.lstatSync(target, { throwIfNoEntry: false });
        if (st?.isDirectory()) removeAny(target);
        fss.renameSync(tmp, target);
        this.forget();
        return;
      }
      case 'hardlink': {
        const existing = await this.replica.resolve(op.existing);
        await this.closeHandle(target, true);
        const a = fss.lstatSync(existing);
        const b = fss.lstatSync(target, { throwIfNoEntry: false });
        if (b && a.ino === b.ino && a.dev === b.dev) return;
        if (op.expect && !(a.isFile() && a.size === op.expect.size && Math.abs(a.mtimeMs - op.expect.mtimeMs) < MTIME_SLACK_MS)) {
          throw new TandemError('link_source_changed', `"${op.existing}" here is not the file "${op.path}" is to be linked to (${a.size} bytes instead of ${op.expect.size}, or another time); the source is asked to send both again.`, 409);
        }
        const tmp = tempPathFor(target);
        await this.ensureParent(target);
        removeAny(tmp);
        fss.linkSync(existing, tmp);
        if (b?.isDirectory()) removeAny(target);
        fss.renameSync(tmp, target);
        // What stood here may have been a directory known as safe, and the new name may be a link (a hard link to a
        // symlink is one): nothing below this path may be written through it.
        this.forget();
        return;
      }
      case 'meta': {
        const fd = this.handles.get(target);
        if (fd !== undefined) {
          // A file being written in this batch: set its metadata through the open handle; commit() syncs it once.
          applyMetaFd(fd, op.meta);
          return;
        }
        applyMeta(target, op.meta, fss.lstatSync(target).isSymbolicLink());
        return;
      }
      case 'delete': {
        await this.closeHandlesAt(target, false);
        removeAny(target);
        this.dirtyDirs.add(path.posix.dirname(target));
        this.forget();
        return;
      }
    }
  }

  /** Makes everything applied in this session durable: file data, then the directory entries. */
  async commit(): Promise<void> {
    await this.scheduler.drain();
    for (const t of [...this.incoming.keys()]) {
      // A file whose last chunk has not arrived stays as its temp file (a later batch continues it).
      const inc = this.incoming.get(t)!;
      this.incoming.delete(t);
      await inc.flushing;
      try { await fdatasync(inc.fd); } finally { fss.closeSync(inc.fd); }
    }
    // File data and directory entries are flushed together: whole files were synced before their rename,
    // so nothing here depends on anything else here.
    const dirs = [...this.dirtyDirs];
    this.dirtyDirs.clear();
    const files = [...this.handles.keys()];
    const synced = await this.syncTogether(files, dirs);
    await Promise.all([
      ...files.map((t) => this.closeHandle(t, !synced.has(t))),
      ...dirs.filter((d) => !synced.has(d)).map(async (d) => {
        let fd: number;
        try { fd = fss.openSync(d, 'r'); } catch { return; }
        try { await fsync(fd); } catch { /* some file systems cannot sync a directory */ } finally { fss.closeSync(fd); }
      }),
    ]);
  }

  /**
   * Several files and directories to flush: one syncfs per file system they are on covers all of them (data,
   * inodes and directory blocks). Returns the paths so covered; the rest are synced one by one.
   */
  private async syncTogether(files: string[], dirs: string[]): Promise<Set<string>> {
    const covered = new Set<string>();
    if (!this.groupSync || files.length + dirs.length < 2) return covered;
    const byDevice = new Map<string, { dir: string; paths: string[] }>();
    const add = (dev: number, dir: string, p: string) => {
      const g = byDevice.get(String(dev)) ?? { dir, paths: [] };
      g.paths.push(p);
      byDevice.set(String(dev), g);
    };
    for (const f of files) add(fss.fstatSync(this.handles.get(f)!).dev, path.posix.dirname(f), f);
    for (const d of dirs) {
      // Gone since, or a file above it now (ENOTDIR): nothing there to flush.
      const st = lstatOrNull(d);
      if (st?.isDirectory()) add(st.dev, d, d);
    }
    await Promise.all([...byDevice].map(async ([dev, g]) => {
      if (await this.groupSync!.request(dev, g.dir)) for (const p of g.paths) covered.add(p);
    }));
    return covered;
  }

  async abort(): Promise<void> {
    await this.scheduler.drain();
    for (const inc of this.incoming.values()) {
      await inc.flushing;
      fss.closeSync(inc.fd);
    }
    this.incoming.clear();
    for (const t of [...this.handles.keys()]) await this.closeHandle(t, false).catch(() => {});
  }
}
