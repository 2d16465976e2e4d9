// File operations sent from source to target, shared by the mirror and continuous replication.
// Paths are the source's absolute POSIX paths; the target maps them through the job's path mapping
// and refuses any that leave its replica roots.
import { z } from 'zod';

const AbsPath = z.string().min(1).max(4096);
/**
 * A file time in epoch milliseconds, within what a Date can hold (before 1970 too). Beyond that the system call that
 * sets it fails, and the operation with it.
 */
const FileTimeMs = z.number().min(-8.64e15).max(8.64e15);

/** Ownership and times applied after content ("metadata last"). Owners only take effect when the target runs as root. */
export const FileMeta = z.object({
  mode: z.number().int().min(0).max(0o7777),
  /** 32-bit ids; 4294967295 is -1 to chown ("leave as it is"), not an owner. */
  uid: z.number().int().min(0).max(0xfffffffe),
  gid: z.number().int().min(0).max(0xfffffffe),
  mtimeMs: FileTimeMs,
});
export type FileMeta = z.infer<typeof FileMeta>;

export const FileOp = z.discriminatedUnion('op', [
  /** Create or replace a directory's metadata (creating it if missing). */
  z.object({ op: z.literal('mkdir'), path: AbsPath, meta: FileMeta }),
  /** Whole-file content in chunks: offset 0 starts a new temp file; `final` renames it into place with meta. */
  z.object({ op: z.literal('file'), path: AbsPath, offset: z.number().int().min(0), final: z.boolean(), size: z.number().int().min(0), meta: FileMeta }),
  /** In-place write of a byte range of an existing file (block delta, replicated writes, appends). */
  z.object({ op: z.literal('write'), path: AbsPath, offset: z.number().int().min(0) }),
  z.object({ op: z.literal('truncate'), path: AbsPath, size: z.number().int().min(0) }),
  /** A symlink's target is kept as it is (it may point anywhere: nothing is ever written through one); not empty. */
  z.object({ op: z.literal('symlink'), path: AbsPath, target: z.string().min(1).max(4096), meta: FileMeta.optional() }),
  /**
   * `path` becomes another name for the already-replicated file `existing`. `expect`: the size and time the source
   * takes `existing` to have on the target at this point of the stream. A target whose `existing` differs holds
   * another file's data there (a mirror sent the path's newer content, from a file renamed over it since); it does
   * not link, and asks for the file to be sent again.
   */
  z.object({
    op: z.literal('hardlink'), path: AbsPath, existing: AbsPath,
    expect: z.object({ size: z.number().int().min(0), mtimeMs: FileTimeMs }).optional(),
  }),
  z.object({ op: z.literal('meta'), path: AbsPath, meta: FileMeta }),
  z.object({ op: z.literal('delete'), path: AbsPath }),
  z.object({ op: z.literal('rename'), path: AbsPath, from: AbsPath }),
]);
export type FileOp = z.infer<typeof FileOp>;

/** One manifest entry: what the source has at a path, so the target can say what it needs. */
export const ManifestEntry = z.object({
  path: AbsPath,
  type: z.enum(['file', 'dir', 'symlink']),
  size: z.number().int().min(0),
  meta: FileMeta,
  /** Symlink target. */
  target: z.string().min(1).max(4096).optional(),
  /** Set on the second and later names of a hard-linked file: the first name seen. */
  linkOf: AbsPath.optional(),
  /**
   * The source lost changes to this file with its queue, and they may have kept its size and time: compare the
   * content (by blocks with `blockChecksum`), not only the metadata.
   */
  checkContent: z.literal(true).optional(),
});
export type ManifestEntry = z.infer<typeof ManifestEntry>;
