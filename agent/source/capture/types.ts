// Shapes shared by the change-capture parts: what the capture emits, what it reads from the disk
// (one lstat per path), and the plan the pure planner hands to the executor.
import type { FileMeta, FileOp } from '../../../shared/protocol/ops';

/**
 * One operation in capture order. `payload` carries the bytes of `write` ops and of `file` op
 * chunks (at most MAX_CHUNK_BYTES each); every other op has none.
 */
export interface CapturedOp {
  op: FileOp;
  payload?: Buffer;
}

/**
 * Conditions an operator must hear about (job warnings). Codes:
 * - watch_limit: fs.inotify.max_user_watches reached; affected dirs fall back to periodic rescans.
 * - watch_overflow: events were lost (the kernel's inotify queue overflowed, found by the overflow sentinel); rescanned.
 * - watch_failed: a directory could not be watched for another reason (permissions, I/O error).
 * - read_failed: a file or directory could not be read; it is retried by the next rescan.
 * - capture_failed: an unexpected error in a capture batch; a full light rescan was scheduled.
 * - name_not_utf8: a name in the set is not valid UTF-8 (Tandem's paths are text): it is not replicated.
 */
export type CaptureWarningCode = 'watch_limit' | 'watch_overflow' | 'overflow_undetected' | 'watch_failed' | 'read_failed' | 'capture_failed' | 'name_not_utf8';

export interface CaptureWarning {
  code: CaptureWarningCode;
  /** One sentence for an operator: what happened and what to do. */
  message: string;
  path?: string;
}

export type EntryKind = 'file' | 'dir' | 'symlink';

/** What lstat reports at a path. Other file types (fifos, sockets, devices) are not replicated. */
export interface Observed {
  /** `${dev}:${ino}:${birthtimeNs}` (see `inodeKey`): identity used to pair renames and find hard links. */
  key: string;
  kind: EntryKind;
  size: number;
  /** Microsecond precision, so equality comparisons are stable. */
  mtimeMs: number;
  ctimeMs: number;
  /** Permission bits only (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  /** Symlink target. */
  target?: string;
}

/** The state of one path at the end of a batch, as far as the capture looked. */
export interface Observation {
  path: string;
  /** null: nothing replicable is at this path (missing, excluded, or an unsupported file type). */
  now: Observed | null;
  /** A write-like event was seen for this path, so its content must be compared even if stat looks unchanged. */
  content: boolean;
  /** Compare the whole content with the block index even if nothing suggests a change (deferred verification). */
  verify?: boolean;
}

/**
 * What the planner decides; the executor turns it into FileOps. Besides plain FileOps (paths and
 * metadata only) there are two content steps that need the disk:
 * - sendFile: the whole file as `file` chunks (new file, or no block index to diff against);
 * - sendChanges: the blocks that differ from the block index as `write` ops, plus `truncate` if it shrank.
 */
export type PlannedOp =
  | Exclude<FileOp, { op: 'file' | 'write' | 'truncate' }>
  | { op: 'sendFile'; path: string; key: string; meta: FileMeta }
  | { op: 'sendChanges'; path: string; key: string; full: boolean };
