// Applies file operations to the replica: whole files via temp + fsync + rename, ranges in place, metadata last.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { FileMeta, FileOp } from '../../shared/protocol/ops';
import { TandemError } from '../../shared/errors';
import { TEMP_PREFIX, type ReplicaFs } from './replica-fs';

const IS_ROOT = process.getuid?.() === 0;
/** Whole files finalized (fsync + metadata + rename) at the same time during a mirror batch. */
const MAX_PARALLEL_FINALIZE = 8;

export function tempPathFor(target: string): string {
  const h = createHash('sha1').update(path.posix.basename(target)).digest('hex').slice(0, 20);
  return path.posix.join(path.posix.dirname(target), `${TEMP_PREFIX}${h}.part`);
}

export async function applyMeta(target: string, meta: FileMeta, isLink = false): Promise<void> {
  const t = meta.mtimeMs / 1000;
  if (isLink) {
    if (IS_ROOT) await fs.lchown(target, meta.uid, meta.gid);
    await fs.lutimes(target, t, t);
    return;
  }
  if (IS_ROOT) await fs.chown(target, meta.uid, meta.gid);
  await fs.chmod(target, meta.mode & 0o7777);
  await fs.utimes(target, t, t);
}

async function removeAny(p: string): Promise<void> {
  await fs.rm(p, { recursive: true, force: true });
}

async function ensureParent(target: string, dirty: Set<string>): Promise<void> {
  const dir = path.posix.dirname(target);
  await fs.mkdir(dir, { recursive: true });
  dirty.add(dir);
}

/** Open handles of files written in place during a batch, fsynced before the batch is acknowledged. */
export class ApplySession {
  private handles = new Map<string, fs.FileHandle>();
  readonly dirtyDirs = new Set<string>();

  constructor(private replica: ReplicaFs) {}

  private async handle(target: string, create: boolean): Promise<fs.FileHandle> {
    let h = this.handles.get(target);
    if (!h) {
      try {
        h = await fs.open(target, 'r+');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !create) throw err;
        await ensureParent(target, this.dirtyDirs);
        h = await fs.open(target, 'w+');
      }
      this.handles.set(target, h);
    }
    return h;
  }

  private async closeHandle(target: string, sync: boolean): Promise<void> {
    const h = this.handles.get(target);
    if (!h) return;
    this.handles.delete(target);
    try {
      if (sync) await h.datasync();
    } finally {
      await h.close();
    }
  }

  /** Whole files being finalized in the background, by target path. */
  private finalizing = new Map<string, Promise<void>>();
  private finalizeError: unknown = null;

  private track(target: string, job: Promise<void>): void {
    const p = job.catch((err) => { this.finalizeError ??= err; }).finally(() => {
      if (this.finalizing.get(target) === p) this.finalizing.delete(target);
    });
    this.finalizing.set(target, p);
  }

  /** Everything but whole-file writes waits for pending finalizations, so operations keep their order. */
  private async settle(target?: string): Promise<void> {
    if (target !== undefined) await this.finalizing.get(target);
    else await Promise.all(this.finalizing.values());
    if (this.finalizeError) {
      const err = this.finalizeError;
      this.finalizeError = null;
      throw err;
    }
  }

  async apply(op: FileOp, payload: Buffer): Promise<void> {
    if (op.op !== 'file') await this.settle();
    if (op.op === 'rename') {
      const from = await this.replica.resolve(op.from);
      const to = await this.replica.resolve(op.path);
      await this.closeHandle(from, true);
      await this.closeHandle(to, false);
      await ensureParent(to, this.dirtyDirs);
      await removeAny(to).catch(() => {});
      await fs.rename(from, to);
      this.dirtyDirs.add(path.posix.dirname(from));
      this.replica.forgetDirs();
      return;
    }
    const target = await this.replica.resolve(op.path);
    switch (op.op) {
      case 'mkdir': {
        const st = await fs.lstat(target).catch(() => null);
        if (st && !st.isDirectory()) { await removeAny(target); this.replica.forgetDirs(); }
        if (!st || !st.isDirectory()) {
          await ensureParent(target, this.dirtyDirs);
          await fs.mkdir(target, { recursive: true });
        }
        await applyMeta(target, op.meta);
        return;
      }
      case 'file': {
        await this.settle(target);
        const tmp = tempPathFor(target);
        let fh: fs.FileHandle;
        if (op.offset === 0) {
          await ensureParent(target, this.dirtyDirs);
          fh = await fs.open(tmp, 'w');
        } else {
          const st = await fs.stat(tmp).catch(() => null);
          if (!st || st.size !== op.offset) {
            throw new TandemError('file_chunk_gap', `Chunk at ${op.offset} of "${op.path}" does not follow the ${st?.size ?? 0} bytes received; resend the file.`, 409);
          }
          fh = await fs.open(tmp, 'r+');
        }
        try {
          if (payload.length) await fh.write(payload, 0, payload.length, op.offset);
        } catch (err) {
          await fh.close();
          throw err;
        }
        if (!op.final) {
          await fh.close();
          return;
        }
        // The slow part (fsync, metadata, rename into place) runs alongside the next files; commit() waits for all.
        await this.closeHandle(target, false);
        const size = op.size;
        const meta = op.meta;
        this.track(target, (async () => {
          try {
            await fh.truncate(size);
            await fh.datasync();
          } finally {
            await fh.close();
          }
          const st = await fs.lstat(target).catch(() => null);
          if (st?.isDirectory()) { await removeAny(target); this.replica.forgetDirs(); }
          await applyMeta(tmp, meta);
          await fs.rename(tmp, target);
        })());
        this.dirtyDirs.add(path.posix.dirname(target));
        if (this.finalizing.size >= MAX_PARALLEL_FINALIZE) await Promise.race(this.finalizing.values());
        return;
      }
      case 'write': {
        const h = await this.handle(target, true);
        await h.write(payload, 0, payload.length, op.offset);
        return;
      }
      case 'truncate': {
        const h = await this.handle(target, true);
        await h.truncate(op.size);
        return;
      }
      case 'symlink': {
        await this.closeHandle(target, false);
        const tmp = tempPathFor(target);
        await ensureParent(target, this.dirtyDirs);
        await removeAny(tmp);
        await fs.symlink(op.target, tmp);
        if (op.meta) await applyMeta(tmp, op.meta, true);
        const st = await fs.lstat(target).catch(() => null);
        if (st?.isDirectory()) await removeAny(target);
        await fs.rename(tmp, target);
        this.replica.forgetDirs();
        return;
      }
      case 'hardlink': {
        const existing = await this.replica.resolve(op.existing);
        await this.closeHandle(target, true);
        const [a, b] = await Promise.all([fs.lstat(existing), fs.lstat(target).catch(() => null)]);
        if (b && a.ino === b.ino && a.dev === b.dev) return;
        const tmp = tempPathFor(target);
        await ensureParent(target, this.dirtyDirs);
        await removeAny(tmp);
        await fs.link(existing, tmp);
        if (b?.isDirectory()) await removeAny(target);
        await fs.rename(tmp, target);
        return;
      }
      case 'meta': {
        const h = this.handles.get(target);
        if (h) {
          // A file being written in this batch: set its metadata through the open handle; commit() syncs it once.
          const t = op.meta.mtimeMs / 1000;
          if (IS_ROOT) await h.chown(op.meta.uid, op.meta.gid);
          await h.chmod(op.meta.mode & 0o7777);
          await h.utimes(t, t);
          return;
        }
        const st = await fs.lstat(target);
        await applyMeta(target, op.meta, st.isSymbolicLink());
        return;
      }
      case 'delete': {
        await this.closeHandle(target, false);
        await removeAny(target);
        this.dirtyDirs.add(path.posix.dirname(target));
        this.replica.forgetDirs();
        return;
      }
    }
  }

  /** Makes everything applied in this session durable: file data, then the directory entries. */
  async commit(): Promise<void> {
    await this.settle();
    for (const t of [...this.handles.keys()]) await this.closeHandle(t, true);
    for (const d of this.dirtyDirs) {
      const h = await fs.open(d, 'r').catch(() => null);
      if (h) {
        await h.sync().catch(() => {});
        await h.close();
      }
    }
    this.dirtyDirs.clear();
  }

  async abort(): Promise<void> {
    await Promise.all(this.finalizing.values());
    this.finalizeError = null;
    for (const t of [...this.handles.keys()]) await this.closeHandle(t, false).catch(() => {});
  }
}
