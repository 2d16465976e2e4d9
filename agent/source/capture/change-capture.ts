// Change capture for one files job: watches the protected set and turns what happens there into an
// ordered stream of FileOps carrying only changed bytes. Batches events for at most `batchMs`,
// survives restarts through a persisted index, and falls back to targeted rescans where events
// may have been missed (watch limit, queue overflow).
import { lstatSync, readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { chooseBlockSize, hashFile } from '../../../shared/delta';
import { isSameOrInside, normalizeAbsolutePath, outermostPaths } from '../../../shared/paths';
import { compileRules, protectedRoots, type RuleInput, type RuleMatcher } from '../../../shared/rules';
import { resolveBatch, type DirtyItem } from './batch-resolver';
import { fsWatchDir, WatchSet, type WatchEventType, type WatchFailure, type WatchFunction } from './dir-watcher';
import { sendFileChanges, sendWholeFile, type EmitOp } from './file-content';
import { IndexStore } from './index-store';
import { devInoOf, inodeKey, isGone, observePath } from './observe';
import { movesAheadOfMirror } from './mirror-race';
import { RenameLog } from './rename-log';
import { planOps, RACY_MARGIN_MS } from './plan-ops';
import { TreeIndex, fileHashes } from './tree-index';
import type { CaptureWarning, CaptureWarningCode, CapturedOp, EntryKind, PlannedOp } from './types';
import { Fifo } from './fifo';
import { inotifyOverflowSentinel, type OverflowSource } from './overflow-sentinel';
import { deviceOf, findVolumeChanges, type VolumeChange } from './volume-guard';

export interface CaptureLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface ChangeCaptureOptions {
  /** The job's replication-set rules. */
  rules: readonly RuleInput[];
  /**
   * Receives ops in capture order. Never called concurrently; if it returns a promise the capture
   * waits for it before reading more (backpressure). Throwing loses the ops: report capture_failed.
   */
  onOps: (ops: CapturedOp[]) => void | Promise<void>;
  onWarning?: (warning: CaptureWarning) => void;
  /** The set of held volumes changed (see heldVolumes): one was found changed, or came back. */
  onVolumesChanged?: () => void;
  /**
   * While a mirror runs: the last path the target acknowledged (null before the first batch); undefined when no
   * mirror runs. Renames that move something the mirror has not sent yet are followed by a whole send.
   */
  mirrorCursor?: () => string | null | undefined;
  /** Directory for the tree model and block hashes (in the agent data dir, one per job). */
  indexDir: string;
  /** Longest time a change waits before it is looked at. Default 50 ms. */
  batchMs?: number;
  /** Full light rescan (stat compare) period; 0 disables. Default 1 hour. */
  rescanIntervalMs?: number;
  /** Period of the targeted rescans of directories that could not be watched, and of read retries. Default 10 s. */
  unwatchedRescanMs?: number;
  /** Longest time the persisted index lags the ops handed on. Default 1 s. */
  persistIntervalMs?: number;
  /** The index was committed: it records the effects of every op handed on so far (a crash no longer loses them). */
  onPersisted?: () => void;
  /**
   * Files at least this large that only grew have just their tail compared (so a writer appending
   * to a huge file does not cost a full re-read per batch); the whole file is compared once it has
   * been quiet for `largeFileVerifyDelayMs` (default 2 s), at the latest 10x that after the first
   * such append. Until then an in-place write elsewhere in such a file reaches the target later
   * than appends made after it. Infinity compares every file fully every time. Default 64 MiB.
   */
  largeFileTailBytes?: number;
  largeFileVerifyDelayMs?: number;
  /**
   * True while ops already handed on still wait to be sent (the replication queue's backlog). The deferred full
   * comparison of a large file waits for it (what it finds would be queued behind the backlog anyway, and it
   * re-reads the whole file on the core that is sending), up to the same 10x bound.
   */
  backlogged?: () => boolean;
  /** Hand ops on once this much payload is pending inside a batch. Default 8 MiB. */
  deliverBytes?: number;
  /** The same warning code is reported at most once per this period (it is logged every time). Default 1 hour. */
  warningRepeatMs?: number;
  /**
   * A batch stops looking after this many paths and the rest is planned in the next one, so a deep rescan of a
   * large protected set never holds every path's observation and plan at once. Default 20,000.
   */
  sliceObservations?: number;
  /** Watch function (tests inject failures). Default fs.watch on one directory. */
  watch?: WatchFunction;
  /**
   * Hears when inotify events were lost (the kernel's queue overflowed). Default: the process's sentinel when
   * `watch` is the default fs.watch (an injected watch function has no kernel queue); null turns detection off.
   */
  overflow?: OverflowSource | null;
  log?: CaptureLogger;
}

export interface StartOptions {
  /**
   * Forget the persisted index and take the current tree as the baseline without emitting ops
   * (use when the target is about to be made identical by a full mirror). Without an index this is
   * what happens anyway; with one, start emits the differences found since it was written.
   */
  fresh?: boolean;
  /**
   * Paths that operations lost with the replication queue touched (a crash): the ones the index does not have are
   * deleted on the target before the index is compared with the tree. The comparison takes the target to hold what
   * the index holds; an earlier operation may have brought such a path there, and a rename found by the
   * comparison would otherwise carry it along under a name the source never had.
   */
  lostPaths?: readonly string[];
}

export interface CaptureStats {
  watchedDirs: number;
  unwatchedDirs: number;
  trackedPaths: number;
  opsEmitted: number;
  bytesEmitted: number;
  batches: number;
  /** Files still waiting for a baseline block index (until then a change sends the whole file). */
  filesAwaitingIndex: number;
}

const MiB = 1024 * 1024;
const nop = (): void => {};
/** The kernel's inotify queue length (for the warning's text); '?' where /proc does not say. */
const maxQueuedEvents = (): string => {
  try {
    return readFileSync('/proc/sys/fs/inotify/max_queued_events', 'utf8').trim();
  } catch {
    return '?';
  }
};
const silentLog: CaptureLogger = { debug: nop, info: nop, warn: nop, error: nop };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** How often a deferred full comparison looks again whether the replication backlog has drained. */
const BACKLOG_RECHECK_MS = 250;
/** Baseline hashing of files at least this large can be interrupted mid-file; smaller ones are read in one go. */
const INTERRUPTIBLE_HASH_BYTES = MiB;
/** Times the background block index reads again a file that changed while it was read. */
const MAX_HASH_REREADS = 3;
/** Files taken from the index per look for ones without a block index. */
const HASH_PAGE = 256;
/** The count of files awaiting a block index is a query over the index: asked at most this often unless the index
 *  changed (a batch was planned, a file was indexed). */
const AWAITING_COUNT_MS = 2_000;
/** How often a held volume's mount point is looked at (one lstat each): its return is replicated within this. */
const VOLUME_CHECK_MS = 2_000;

/** The key (device, inode, birth time) of the directory at `path` now (a symlink is not followed), or null. */
function dirKeyNow(path: string): string | null {
  try {
    const st = lstatSync(path, { throwIfNoEntry: false, bigint: true });
    return st?.isDirectory() ? inodeKey(st) : null;
  } catch {
    return null;
  }
}

/** The device of the directory at `path` now, or null. */
function deviceOfDirNow(path: string): string | null {
  const key = dirKeyNow(path);
  return key === null ? null : deviceOf(key);
}

/** Meta entry of the index: the rules it was filtered with (a start with other rules drops what they exclude). */
const RULES_META = 'rules';
/** Set once the index's keys include the birth time (`inodeKey`), so the look for older keys runs once. */
const KEY_FORMAT_META = 'keyFormat';
const KEY_FORMAT = 'dev:ino:btime';

/** Collects ops and hands them on in order, in groups bounded by payload size. */
class OpSink {
  private pending: CapturedOp[] = [];
  private bytes = 0;

  constructor(
    private readonly deliver: (ops: CapturedOp[]) => Promise<void>,
    private readonly maxBytes: number,
  ) {}

  readonly push: EmitOp = async (op) => {
    this.pending.push(op);
    this.bytes += op.payload?.length ?? 0;
    if (this.bytes >= this.maxBytes || this.pending.length >= 4096) await this.flush();
  };

  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const ops = this.pending;
    this.pending = [];
    this.bytes = 0;
    await this.deliver(ops);
  }
}

export class ChangeCapture {
  private readonly opts: Required<Omit<ChangeCaptureOptions, 'onWarning' | 'onVolumesChanged' | 'log' | 'watch' | 'overflow' | 'rules' | 'backlogged' | 'mirrorCursor' | 'onPersisted'>>;
  private readonly matcher: RuleMatcher;
  private readonly roots: string[];
  private readonly store: IndexStore;
  private readonly log: CaptureLogger;
  private readonly mirrorCursor?: () => string | null | undefined;
  private readonly watches: WatchSet;
  private tree = new TreeIndex();
  private running = false;
  /** False while the baseline scan records the tree without emitting. */
  private emitting = true;
  private chain: Promise<void> = Promise.resolve();
  private busy = 0;
  private readonly dirty = new Map<string, DirtyItem>();
  private batchTimer: NodeJS.Timeout | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly intervals: NodeJS.Timeout[] = [];
  /** Directories that could not be watched; rescanned every unwatchedRescanMs. */
  private readonly unwatched = new Set<string>();
  /** Roots whose parent directory is watched for the root's name. */
  private readonly anchored = new Set<string>();
  /** Items that failed to read; retried with the unwatched rescans. */
  private readonly retries = new Map<string, DirtyItem>();
  /** Recent renames, to find where a path the target asks for has moved since (see resend). */
  private readonly renames = new RenameLog();
  /** New names found, when their event arrived, to be further names of a file: name → the file's inode (see noteNewLink). */
  private linkSeenAt = new Map<string, string>();
  private readonly linkChecked = new Set<string>();
  private readonly verifyTimers = new Map<string, { timer: NodeJS.Timeout; firstAt: number }>();
  private persistTimer: NodeJS.Timeout | undefined;
  private readonly lastWarning = new Map<CaptureWarningCode, number>();
  /** Directories held because their file system changed (see heldVolumes), by path. */
  private readonly held = new Map<string, VolumeChange>();
  private volumeCheck: NodeJS.Timeout | undefined;
  /**
   * The background block-index build walks the index's files without one in key order (`hashCursor`: where the walk
   * is, undefined when none runs), a page at a time; files that must wait (written moments ago, or interrupted)
   * go to `hashRetry`. Nothing here grows with the size of the protected set.
   */
  private hashCursor: string | undefined;
  private hashPage: string[] = [];
  private hashRetry = new Fifo<string>();
  /** The file the background build is reading: out of the walk and the queue, but still awaiting its index. */
  private hashInFlight: string | undefined;
  /** Files that changed while they were read, with how often; each is read again a few times, then left to its next change. */
  private hashRereads = new Map<string, number>();
  /** The start-up comparison (or baseline) is done: background hashing may run. */
  private compared = false;
  private awaitingCount = { at: -Infinity, value: 0 };
  private hashing: Promise<void> | undefined;
  /** Background hashing waits while this is set (a mirror is reading the same files and needs the disk). */
  private hashingHeld = false;
  /** Interrupts the file being hashed: a hold or a stop must not wait for a large file's read to finish. */
  private hashAbort: AbortController | undefined;
  private counters = { opsEmitted: 0, bytesEmitted: 0, batches: 0 };
  private readonly overflow: OverflowSource | null;
  private unsubscribeOverflow: (() => void) | undefined;

  constructor(private readonly options: ChangeCaptureOptions) {
    this.opts = {
      onOps: options.onOps,
      indexDir: options.indexDir,
      batchMs: options.batchMs ?? 50,
      rescanIntervalMs: options.rescanIntervalMs ?? 3_600_000,
      unwatchedRescanMs: options.unwatchedRescanMs ?? 10_000,
      persistIntervalMs: options.persistIntervalMs ?? 1_000,
      largeFileTailBytes: options.largeFileTailBytes ?? 64 * MiB,
      largeFileVerifyDelayMs: options.largeFileVerifyDelayMs ?? 2_000,
      deliverBytes: options.deliverBytes ?? 8 * MiB,
      warningRepeatMs: options.warningRepeatMs ?? 3_600_000,
      sliceObservations: options.sliceObservations ?? 20_000,
    };
    this.matcher = compileRules(options.rules);
    this.roots = protectedRoots(options.rules);
    this.store = new IndexStore(options.indexDir);
    this.log = options.log ?? silentLog;
    this.mirrorCursor = options.mirrorCursor;
    this.overflow = options.overflow !== undefined ? options.overflow : options.watch ? null : inotifyOverflowSentinel();
    this.watches = new WatchSet(
      options.watch ?? fsWatchDir,
      (dirKey, event, filename) => this.onWatchEvent(dirKey, event, filename),
      (parent, name) => this.onAnchorEvent(posix.join(parent, name)),
      (dirKey, err) => this.onWatchError(dirKey, err),
    );
  }

  /**
   * Loads the index, watches every directory of the protected set and compares the tree with the
   * index: differences found are emitted as ops (changes made while the capture was not running);
   * with no index (or `fresh`) the tree is recorded as the baseline without emitting, and block
   * hashes are built in the background. Resolves when every directory is watched (or listed as
   * unwatched) and the comparison is done; any change after that is emitted.
   */
  async start(options: StartOptions = {}): Promise<void> {
    if (this.running) throw new Error('change capture already started');
    this.tree.close();
    const loaded = await this.store.load({ fresh: options.fresh });
    this.tree = loaded.tree;
    const found = loaded.found;
    if (loaded.unreadable) {
      this.warn('capture_failed', `The change-capture index could not be read (${loaded.unreadable}); it was rebuilt from the disk, so changes made while the agent was stopped may not have reached the target. Run a difference mirror of the job (tandem job mirror ID start --mode different).`);
    }
    if (found && this.tree.getMeta(KEY_FORMAT_META) !== KEY_FORMAT) this.rekeyDevInoIndex();
    this.tree.setMeta(KEY_FORMAT_META, KEY_FORMAT);
    // Entries the rules no longer cover (the job's rules changed) are forgotten, not deleted on the
    // target: leaving the set through a rule change is the orphan processing's call, not ours.
    const rules = JSON.stringify(this.options.rules);
    if (found && this.tree.getMeta(RULES_META) !== rules) {
      for (const [path, node] of this.tree.entries()) {
        if (this.tree.has(path) && !this.isTracked(path, node.kind)) this.tree.removeSubtree(path);
      }
    }
    this.tree.setMeta(RULES_META, rules);
    this.running = true;
    // Files without a block index (baseline, or an index cut short) get one in the background, after the
    // comparison below; from now on the status counts them as waiting (the baseline adds them as it goes).
    this.hashCursor = '';
    // Before the first watch: events lost while the baseline is taken count too.
    this.unsubscribeOverflow = this.overflow?.subscribe(() => void this.eventsLost().catch(nop), (reason) => {
      const every = this.opts.rescanIntervalMs > 0 ? `the periodic rescan (every ${Math.round(this.opts.rescanIntervalMs / 60_000)} min)` : 'a verify (tandem job verify ID)';
      this.warn('overflow_undetected', `Lost file change events cannot be detected on this agent (${reason}): changes missed when the kernel's inotify queue overflows are found only by ${every}. The detector keeps a small directory in /dev/shm (else the temp dir): check that it is writable, then restart the agent.`);
    });
    this.watchAnchors();
    const baseline = !found;
    const lost = options.lostPaths ?? [];
    await this.enqueue(async () => {
      // With a baseline the model is the tree as it is now, so what it lacks is gone: compared after it.
      if (!baseline) await this.deleteUnknown(lost);
      this.emitting = !baseline;
      try {
        await this.runItems(this.roots.map((path) => ({ kind: 'rescan', path, deep: true })));
        if (baseline) this.store.markComplete(this.tree);
      } finally {
        this.emitting = true;
      }
      if (baseline) await this.deleteUnknown(lost);
    });
    this.compared = true;
    this.startHashing();
    this.schedulePersist();
    if (this.opts.rescanIntervalMs > 0) {
      this.intervals.push(setInterval(() => void this.rescan().catch(nop), this.opts.rescanIntervalMs));
    }
    this.intervals.push(setInterval(() => this.retryUnwatched(), this.opts.unwatchedRescanMs));
    for (const t of this.intervals) t.unref();
    this.log.info({ roots: this.roots, baseline, watched: this.watches.count, tracked: this.tree.size }, 'change capture started');
  }

  /** Captures what is pending, closes the watches and writes the index. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.compared = false;
    // Held volumes are found again by the next start's comparison, while the model still has the old device.
    this.held.clear();
    clearInterval(this.volumeCheck);
    this.volumeCheck = undefined;
    clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    for (const t of this.intervals) clearInterval(t);
    this.intervals.length = 0;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const v of this.verifyTimers.values()) clearTimeout(v.timer);
    this.verifyTimers.clear();
    clearTimeout(this.persistTimer);
    this.persistTimer = undefined;
    await this.enqueue(() => this.runBatch());
    this.unsubscribeOverflow?.();
    this.unsubscribeOverflow = undefined;
    this.watches.closeAll();
    this.anchored.clear();
    this.hashCursor = undefined;
    this.hashPage = [];
    this.hashRetry = new Fifo();
    this.hashRereads.clear();
    this.hashAbort?.abort();
    await this.hashing;
    await this.enqueue(async () => {
      this.commitIndex();
      this.tree.close();
      this.tree = new TreeIndex();
    });
  }

  /**
   * Compares the given directories (one level each) with the index and emits ops for the
   * differences; without arguments, a full light rescan of the protected set (stat compare,
   * content read only where stat changed). Resolves when the ops are handed on.
   */
  async rescan(dirs?: readonly string[]): Promise<void> {
    if (!this.running) return;
    const items: DirtyItem[] = dirs
      ? dirs.map((path) => ({ kind: 'rescan', path: normalizeAbsolutePath(path), deep: false }))
      : this.roots.map((path) => ({ kind: 'rescan', path, deep: true }));
    for (const item of items) this.mergeDirty(item);
    await this.enqueue(() => this.runBatch());
  }

  /**
   * The target found these paths missing (an operation on them had nothing to act on, e.g. a rename from a path
   * the running mirror had not brought yet, to one it had already passed), or the mirror found them gone when it came
   * to them (it sent nothing for them, and what was there may have moved behind it). The index forgets that the target has
   * them, every name of the same file included, and they are sent again whole from what the source has now. What
   * the target does have there (a part a mirror or an earlier resend brought, since moved or removed on the source)
   * is deleted first, so the target ends with exactly what is sent.
   */
  async resend(paths: readonly string[], why = 'the target lacks paths an operation needed'): Promise<void> {
    if (!this.running) return;
    // What the paths name now, in the model: batches queued before this one may move them before it runs (the
    // object is then sent from where it went, not looked for where it was).
    // A path the model no longer has is followed through the renames planned since (it may have moved on).
    const wanted = paths.map((raw) => {
      const path = normalizeAbsolutePath(raw);
      return { path, key: this.tree.get(this.whereNow(path))?.key };
    });
    await this.enqueue(async () => {
      const names = new Set<string>();
      for (const { path, key } of wanted) {
        const node = key === undefined ? this.tree.get(path) : this.tree.node(key);
        const now = node === undefined ? [path] : this.tree.pathsOf(node.key);
        for (const name of now.length > 0 ? now : [path]) names.add(name);
      }
      for (const name of names) if (this.tree.has(name)) this.tree.removeSubtree(name);
      // Never a protected root itself: that would empty the whole replica for a moment.
      await this.execute([...names].filter((n) => !this.roots.includes(n)).map((path) => ({ op: 'delete' as const, path })));
      for (const name of names) this.mergeDirty({ kind: 'path', path: name, content: true });
      this.log.info({ paths: paths.length, first: paths[0] }, `${why}: sending them again`);
      await this.runBatch();
    });
  }

  /**
   * Files whose latest operations were lost with the queue in a crash of the agent. What the target holds for
   * them is not known, and no comparison by size and time can tell: a change made within the same clock tick as the
   * one before keeps both. They are sent again whole; directories are left to the difference mirror. A path may name
   * a file that has moved since (its directory renamed while the agent was down): it is followed to where it is now.
   */
  async resendLostFiles(paths: readonly string[]): Promise<void> {
    if (!this.running) return;
    const files = paths.map((p) => this.whereNow(normalizeAbsolutePath(p))).filter((p) => this.tree.get(p)?.kind === 'file');
    if (files.length) await this.resend(files);
  }

  /** Where the model has what was at `path`: the path itself, or where the renames planned since have moved it. */
  private whereNow(path: string): string {
    return this.tree.has(path) ? path : this.renames.follow(path);
  }

  /**
   * Deletes on the target the paths operations lost with the queue touched (queue exhausted) that the model does
   * not have: an earlier operation may have left them there. What the model has is the difference mirror's to
   * repair.
   */
  async removeFromTarget(paths: readonly string[]): Promise<void> {
    if (!this.running) return;
    await this.enqueue(() => this.deleteUnknown(paths));
  }

  private async deleteUnknown(paths: readonly string[]): Promise<void> {
    const unknown = outermostPaths(paths.filter((p) => !this.tree.has(normalizeAbsolutePath(p)))).filter((p) => !this.roots.includes(p));
    if (!unknown.length) return;
    this.log.info({ paths: unknown.length, first: unknown[0] }, 'deleting on the target what lost operations may have left there');
    await this.execute(unknown.map((path) => ({ op: 'delete' as const, path })));
  }

  /**
   * Events were lost (the overflow sentinel found the kernel's event queue overflowed; fs.watch itself never says):
   * warns `watch_overflow` and rescans the directory or, without one (the queue does not say whose events it
   * dropped), the whole protected set by its metadata: what changed is sent, nothing is remirrored.
   */
  async eventsLost(dir?: string): Promise<void> {
    if (!this.running) return;
    this.warn('watch_overflow', `File change events were lost${dir ? ` under ${dir}` : ''}: the kernel's inotify event queue overflowed (more than fs.inotify.max_queued_events=${maxQueuedEvents()} events waited while the agent was busy). Rescanning ${dir ? 'that directory' : 'the protected set'} to find the changes (nothing is remirrored). If this repeats, raise the limit: sysctl -w fs.inotify.max_queued_events=65536 (and add it to /etc/sysctl.d/ to keep it).`, dir);
    await this.rescan(dir ? [dir] : undefined);
  }

  /** Resolves once nothing is pending: no batch waiting or running and no baseline hashing left. */
  async settled(): Promise<void> {
    for (;;) {
      await this.chain;
      await this.hashing;
      if (this.batchTimer === undefined && this.dirty.size === 0 && this.busy === 0 && !this.hashing) return;
      await sleep(Math.max(5, Math.min(this.opts.batchMs, 50)));
    }
  }

  /**
   * The protected set's files and bytes as the capture knows them (its baseline is a stat of every path under the
   * same rules, kept current since): what a mirror's size calculation would find by walking the set once more.
   * Null until the capture has compared the tree.
   */
  measure(): { files: number; bytes: number } | null {
    return this.running && this.compared ? this.tree.measureFiles() : null;
  }

  stats(): CaptureStats {
    return {
      watchedDirs: this.watches.count,
      unwatchedDirs: this.unwatched.size,
      trackedPaths: this.tree.size,
      ...this.counters,
      filesAwaitingIndex: this.filesAwaitingIndex(),
    };
  }

  private filesAwaitingIndex(): number {
    if (!this.hasHashWork() && this.hashInFlight === undefined) return 0;
    const now = Date.now();
    if (now - this.awaitingCount.at >= AWAITING_COUNT_MS) this.awaitingCount = { at: now, value: this.tree.countUnhashedFiles() };
    return Math.max(this.awaitingCount.value, this.hashRetry.length);
  }

  // ---- events and batching ----

  private onWatchEvent(dirKey: string, event: WatchEventType, filename: string | null): void {
    if (!this.running) return;
    this.overflow?.noteEvent();
    // No name, or one that is not UTF-8 (it reads back with replacement characters and names nothing on disk):
    // the directory is listed again, which finds what changed and reports a name it cannot replicate.
    if (filename === null || filename.includes('\uFFFD')) {
      const dir = this.tree.dirPathOf(dirKey);
      if (dir !== undefined) this.addDirty({ kind: 'rescan', path: dir, deep: false });
      return;
    }
    this.addDirty({ kind: 'entry', dirKey, name: filename, content: event === 'change' });
    this.noteNewLink(dirKey, filename);
    // inotify reports the watched directory's own move or deletion under its own name.
    // As a name in its parent's directory when the model has that, so a move of the parent is followed.
    const dir = this.tree.dirPathOf(dirKey);
    if (dir !== undefined && filename === posix.basename(dir)) {
      const parentKey = this.tree.get(posix.dirname(dir))?.key;
      this.addDirty(parentKey === undefined || dir === posix.dirname(dir)
        ? { kind: 'path', path: dir, content: false }
        : { kind: 'entry', dirKey: parentKey, name: filename, content: false });
    }
  }

  /**
   * A name the model does not have yet is looked at when its event arrives: if it is a further name of a file (a hard
   * link), the batch remembers which file. Should the link be gone by the time the batch looks (removed with its
   * directory, say), a write made through it is visible nowhere else (inotify reports it under the link's name
   * only), so the file's other names are then compared in full. Once per name and batch.
   */
  private noteNewLink(dirKey: string, name: string): void {
    const dir = this.tree.dirPathOf(dirKey);
    if (dir === undefined) return;
    const path = dir === '/' ? `/${name}` : `${dir}/${name}`;
    if (this.linkChecked.has(path) || this.tree.has(path)) return;
    this.linkChecked.add(path);
    const st = lstatSync(path, { throwIfNoEntry: false, bigint: true });
    if (st && st.isFile() && st.nlink > 1n) this.linkSeenAt.set(path, inodeKey(st));
  }

  /** A dirty item for a path the model has: as a name in its directory where possible, which follows that directory's moves. */
  private itemFor(path: string, o: { content: boolean; verify?: boolean }): DirtyItem {
    const dirKey = path === posix.dirname(path) ? undefined : this.tree.get(posix.dirname(path))?.key;
    if (dirKey === undefined) return { kind: 'path', path, content: o.content, ...(o.verify ? { verify: true } : {}) };
    return { kind: 'entry', dirKey, name: posix.basename(path), content: o.content, ...(o.verify ? { verify: true } : {}) };
  }

  private onWatchError(dirKey: string, err: Error): void {
    const dir = this.tree.dirPathOf(dirKey);
    if (dir === undefined) return;
    this.unwatched.add(dir);
    this.warn('watch_failed', `Watching ${dir} failed (${err.message}); changes there are found by a rescan every ${this.opts.unwatchedRescanMs / 1000} s until the watch can be set again.`, dir);
    this.addDirty({ kind: 'rescan', path: dir, deep: false });
  }

  private dirtyId(item: DirtyItem): string {
    return item.kind === 'entry' ? `e\0${item.dirKey}\0${item.name}` : `${item.kind[0]}\0${item.path}`;
  }

  private mergeDirty(item: DirtyItem): void {
    const id = this.dirtyId(item);
    const prev = this.dirty.get(id);
    if (!prev) {
      this.dirty.set(id, item);
      return;
    }
    if (prev.kind === 'rescan' && item.kind === 'rescan') prev.deep ||= item.deep;
    else if (prev.kind !== 'rescan' && item.kind !== 'rescan') {
      prev.content ||= item.content;
      if (prev.kind === 'path' && item.kind === 'path') {
        prev.deep ||= item.deep;
        prev.verify ||= item.verify;
      } else if (prev.kind === 'entry' && item.kind === 'entry') prev.verify ||= item.verify;
    }
  }

  private addDirty(item: DirtyItem): void {
    if (!this.running) return;
    this.mergeDirty(item);
    if (this.batchTimer === undefined) {
      this.batchTimer = setTimeout(() => {
        this.batchTimer = undefined;
        void this.enqueue(() => this.runBatch()).catch(nop);
      }, this.opts.batchMs);
    }
  }

  /** Runs `fn` after everything queued before it; batches, rescans and index writes never overlap. */
  private enqueue(fn: () => Promise<void>): Promise<void> {
    this.busy++;
    const run = this.chain.then(fn).finally(() => this.busy--);
    this.chain = run.catch((err: unknown) => this.batchFailed(err));
    return run;
  }

  private batchFailed(err: unknown): void {
    this.log.error({ err }, 'change capture batch failed');
    this.warn('capture_failed', `Change capture failed (${(err as Error)?.message ?? String(err)}); changes may not have been sent. A rescan is scheduled; if this repeats, run a difference mirror of the job.`);
    if (this.running) this.later(() => void this.rescan().catch(nop), this.opts.unwatchedRescanMs);
  }

  private async runBatch(): Promise<void> {
    if (this.dirty.size === 0) return;
    const items = [...this.dirty.values()];
    this.dirty.clear();
    const linkSeenAt = this.linkSeenAt;
    this.linkSeenAt = new Map();
    this.linkChecked.clear();
    await this.runItems(items, linkSeenAt);
  }

  private async runItems(items: DirtyItem[], linkSeenAt?: ReadonlyMap<string, string>): Promise<void> {
    // A deep rescan (the baseline, the periodic light rescan) covers the whole protected set: it is planned
    // and executed in slices of at most SLICE_OBSERVATIONS paths, each slice continuing where the last stopped.
    for (let next = items; next.length > 0;) {
      const { observations, leftover } = await resolveBatch(next, {
        tree: this.tree,
        isTracked: (path, kind) => this.isTracked(path, kind),
        isCandidate: (path) => this.matcher.isIncluded(path) || this.matcher.mayContainIncluded(path),
        mayContainIncluded: (dir) => this.matcher.mayContainIncluded(dir),
        watchDir: (key, path, renew) => this.watchDir(key, path, renew),
        cannotRead: (path, err, retry) => this.cannotRead(path, err, retry),
        namesNotUtf8: (dir, escaped) => this.namesNotUtf8(dir, escaped),
        linkedAt: (path) => linkSeenAt?.get(path),
        maxObservations: this.opts.sliceObservations,
      });
      next = leftover;
      for (const v of findVolumeChanges(observations, this.tree, deviceOfDirNow)) this.holdVolume(v);
      // Nothing under a held volume is planned: the model, and so the target, keep what was there.
      const held = [...this.held.keys()];
      const kept = held.length ? observations.filter((o) => !held.some((h) => isSameOrInside(h, o.path))) : observations;
      if (kept.length === 0) continue;
      const plan = planOps(kept, this.tree);
      this.counters.batches++;
      const cursor = this.mirrorCursor?.();
      const ahead = cursor === undefined ? [] : movesAheadOfMirror(plan, cursor);
      this.renames.record(plan);
      await this.execute(plan);
      if (ahead.length) void this.resend(ahead).catch(nop);
      this.afterPlan();
    }
  }

  private isTracked(path: string, kind: EntryKind): boolean {
    if (this.matcher.isIncluded(path)) return true;
    return kind === 'dir' && this.matcher.mayContainIncluded(path);
  }

  // ---- executing a plan ----

  private async execute(plan: PlannedOp[]): Promise<void> {
    const sink = new OpSink(async (ops) => {
      this.counters.opsEmitted += ops.length;
      for (const o of ops) this.counters.bytesEmitted += o.payload?.length ?? 0;
      await this.opts.onOps(ops);
    }, this.opts.deliverBytes);
    for (const step of plan) {
      if (!this.emitting) continue; // baseline: recorded only; start() queues the files for hashing
      if (step.op === 'sendFile') await this.sendFile(step.path, step.key, sink.push);
      else if (step.op === 'sendChanges') await this.sendChanges(step.path, step.key, step.full, sink.push);
      else await sink.push({ op: step });
    }
    await sink.flush();
  }

  private async sendFile(path: string, key: string, emit: EmitOp): Promise<void> {
    const node = this.tree.node(key);
    if (!node) return;
    const meta = { mode: node.mode, uid: node.uid, gid: node.gid, mtimeMs: node.mtimeMs };
    try {
      this.tree.setHashes(key, await sendWholeFile(path, meta, emit, key));
    } catch (err) {
      // Keep the op stream consistent (later ops may rename or link this path): send it empty.
      // If it vanished, its delete follows (or, moved, it is looked at again); if it could not be read, it is retried.
      await emit({ op: { op: 'file', path, offset: 0, final: true, size: 0, meta }, payload: Buffer.alloc(0) });
      this.tree.setHashes(key, fileHashes({ blockSize: chooseBlockSize(0), fileSize: 0, digests: Buffer.alloc(0) }, 0));
      if (isGone(err)) this.contentMissed(path, key);
      else {
        this.tree.setStat({ ...node, size: -1 }); // differs from any stat, so the retry compares content
        this.cannotRead(path, err, { kind: 'path', path, content: true });
      }
    }
  }

  private async sendChanges(path: string, key: string, full: boolean, emit: EmitOp): Promise<void> {
    const node = this.tree.node(key);
    if (!node) return;
    if (!node.hashes) {
      // Without a block index the content goes whole. A file with other names is rewritten in place: a temp file
      // renamed over this name would give it a new inode on the target and split it from those names there.
      if (node.paths.length > 1) return this.rewriteInPlace(path, key, emit);
      return this.sendFile(path, key, emit);
    }
    try {
      const result = await sendFileChanges(path, node.hashes, emit, {
        tailMinBytes: full ? Infinity : this.opts.largeFileTailBytes, expectKey: key,
      });
      this.tree.setHashes(key, result.hashes);
      if (result.tailOnly) this.scheduleVerify(path);
    } catch (err) {
      // The old hashes stay, so whatever was not confirmed is compared (and sent) again.
      if (isGone(err)) this.contentMissed(path, key);
      else this.cannotRead(path, err, { kind: 'path', path, content: true, verify: true });
    }
  }

  /**
   * The content of `key` could not be read at `path`: it went, or moved (its directory renamed) between the look and
   * the read, or another file is there now. The target may then lack what the model's stat claims, so the stat is
   * marked unknown (the next look at the file compares content) and the name is looked at again through its
   * directory, which follows a move of that directory; a rename of the file itself comes with its own event.
   */
  private contentMissed(path: string, key: string): void {
    const node = this.tree.node(key);
    if (!node) return;
    this.tree.setStat({ ...node, size: -1 });
    this.addDirty(this.itemFor(path, { content: true }));
  }

  /** The whole content of a file as in-place writes over an emptied target file (which keeps its inode and names). */
  private async rewriteInPlace(path: string, key: string, emit: EmitOp): Promise<void> {
    try {
      await emit({ op: { op: 'truncate', path, size: 0 } });
      const nothing = fileHashes({ blockSize: chooseBlockSize(0), fileSize: 0, digests: Buffer.alloc(0) }, 0);
      this.tree.setHashes(key, nothing); // what the target has now, whatever the read below manages
      this.tree.setHashes(key, (await sendFileChanges(path, nothing, emit, { expectKey: key })).hashes);
    } catch (err) {
      if (isGone(err)) this.contentMissed(path, key);
      else this.cannotRead(path, err, { kind: 'path', path, content: true });
    }
  }

  /**
   * A tail-only comparison leaves the rest of the file unverified: compare it fully once it has been
   * quiet for largeFileVerifyDelayMs, and at the latest 10x that after the first unverified append
   * (so a file that keeps growing is not re-read while it is being written, nor left unverified).
   */
  private scheduleVerify(path: string): void {
    const now = Date.now();
    const prev = this.verifyTimers.get(path);
    if (prev) clearTimeout(prev.timer);
    const firstAt = prev?.firstAt ?? now;
    const latest = firstAt + 10 * this.opts.largeFileVerifyDelayMs;
    const due = Math.min(now + this.opts.largeFileVerifyDelayMs, latest);
    const fire = () => {
      if (this.options.backlogged?.() && Date.now() < latest) {
        entry.timer = later(BACKLOG_RECHECK_MS);
        return;
      }
      this.verifyTimers.delete(path);
      this.addDirty({ kind: 'path', path, content: true, verify: true });
    };
    const later = (ms: number) => setTimeout(fire, ms).unref();
    const entry = { timer: later(Math.max(0, due - now)), firstAt };
    this.verifyTimers.set(path, entry);
  }

  /**
   * An index written before keys had the birth time (`inodeKey`): each inode whose path still names the same device
   * and inode number gets its full key. Any other keeps the old one, and the comparison that follows sees what is at
   * its path now as another object, which is what it is.
   */
  private rekeyDevInoIndex(): void {
    let rekeyed = 0;
    for (const { key, path } of this.tree.devInoKeys()) {
      let st;
      try {
        st = path === null ? undefined : lstatSync(path, { bigint: true, throwIfNoEntry: false });
      } catch {
        continue; // not there as it was (ENOTDIR, EACCES): the comparison decides
      }
      if (st && devInoOf(st) === key) {
        this.tree.rekey(key, inodeKey(st));
        rekeyed++;
      }
    }
    if (rekeyed) this.log.info({ rekeyed }, 'capture index: inode keys now include the birth time');
  }

  /** Closes watches of directories that left the set; schedules the index commit. */
  private afterPlan(): void {
    this.awaitingCount.at = -Infinity; // files may have been added or indexed
    for (const key of this.tree.takeRemovedDirs()) {
      if (this.watches.has(key) && this.tree.dirPathOf(key) === undefined) this.watches.close(key);
    }
    // A baseline emits nothing, so each slice can be committed at once (it is not trusted until it is complete).
    if (!this.emitting) this.commitIndex();
    else this.schedulePersist();
  }

  // ---- watches, failures, retries ----

  private watchDir(key: string, path: string, renew: boolean): void {
    const failure = renew ? this.watches.renew(key, path) : this.watches.ensure(key, path);
    if (failure) this.watchFailed(failure, path);
    else this.unwatched.delete(path);
  }

  private watchFailed(failure: WatchFailure, rescanPath: string): void {
    if (failure.outcome === 'gone') return; // it vanished; its parent's event says so
    this.unwatched.add(rescanPath);
    const every = `${this.opts.unwatchedRescanMs / 1000} s`;
    if (failure.outcome === 'limit') {
      this.warn('watch_limit', `Cannot watch ${failure.path}: the inotify watch limit is reached (fs.inotify.max_user_watches, ${failure.error.message}). Changes in unwatched directories are found by a rescan every ${every} instead of at once. Raise the limit: sysctl -w fs.inotify.max_user_watches=524288 (and add it to /etc/sysctl.d/ to keep it).`, failure.path);
    } else {
      this.warn('watch_failed', `Cannot watch ${failure.path} (${failure.error.message}); changes there are found by a rescan every ${every}. Check the directory's permissions.`, failure.path);
    }
  }

  /**
   * Directories of the set whose file system is not the one the model has (an unmounted volume): nothing under them
   * is replicated until their device is back. The source job holds its mirror meanwhile and reports each.
   */
  heldVolumes(): VolumeChange[] {
    return [...this.held.values()];
  }

  private holdVolume(v: VolumeChange): void {
    if (this.held.has(v.path)) return;
    this.held.set(v.path, v);
    this.log.error({ path: v.path, was: v.was, now: v.now }, 'the file system of a protected directory changed (an unmounted volume?): holding replication of it, the target keeps its copy');
    this.volumeCheck ??= setInterval(() => this.checkHeldVolumes(), VOLUME_CHECK_MS);
    this.volumeCheck.unref();
    this.options.onVolumesChanged?.();
  }

  /**
   * A held directory back as itself (its volume mounted again): compared with the model and replicated. Another
   * volume there, even on the same device number (a new disk in the old one's slot), does not end the hold: taken
   * at its word it would delete from the replica everything the new disk lacks.
   */
  private checkHeldVolumes(): void {
    for (const v of this.held.values()) {
      const key = dirKeyNow(v.path);
      if (key !== v.wasKey) {
        if (key !== null) v.now = deviceOf(key);
        continue;
      }
      this.held.delete(v.path);
      this.log.info({ path: v.path }, 'the protected volume is back: comparing it and replicating again');
      this.addDirty({ kind: 'rescan', path: v.path, deep: true });
      this.options.onVolumesChanged?.();
    }
    if (this.held.size === 0) {
      clearInterval(this.volumeCheck);
      this.volumeCheck = undefined;
    }
  }

  private namesNotUtf8(dir: string, escaped: string[]): void {
    const shown = escaped.slice(0, 3).map((n) => `"${n}"`).join(', ') + (escaped.length > 3 ? ` and ${escaped.length - 3} more` : '');
    this.warn('name_not_utf8', `${escaped.length === 1 ? 'A name' : `${escaped.length} names`} in ${dir} ${escaped.length === 1 ? 'is' : 'are'} not valid UTF-8 and cannot be replicated: ${shown} (bytes that are not UTF-8 written \\xHH). Tandem replicates UTF-8 names only: rename ${escaped.length === 1 ? 'it' : 'them'} (for example convmv -f latin1 -t utf-8 --notest -r ${dir}); a renamed file is replicated at once.`, dir);
  }

  private cannotRead(path: string, err: unknown, retry: DirtyItem): void {
    this.retries.set(this.dirtyId(retry), retry);
    this.warn('read_failed', `Cannot read ${path} (${(err as Error)?.message ?? String(err)}); it is retried every ${this.opts.unwatchedRescanMs / 1000} s. Check permissions and disk health.`, path);
  }

  /**
   * Watches the parent of each root, and of each directory above it, for that one name: the root renamed away,
   * deleted or created later, directly or by a rename of a directory above it (which moves it out of the set too).
   */
  private watchAnchors(): void {
    for (const root of this.roots) {
      for (let at = root; posix.dirname(at) !== at; at = posix.dirname(at)) {
        if (this.anchored.has(at)) continue;
        const failure = this.watches.ensureAnchor(posix.dirname(at), posix.basename(at));
        if (!failure) this.anchored.add(at);
        else if (failure.outcome === 'gone') this.unwatched.add(root); // probed by the periodic rescan
        else this.watchFailed(failure, root);
      }
    }
  }

  /** A root, or a directory above roots, appeared or vanished under its name: each root there is looked at. */
  private onAnchorEvent(path: string): void {
    for (const root of this.roots) {
      if (root === path || root.startsWith(`${path}/`)) this.addDirty({ kind: 'path', path: root, content: true });
    }
  }

  private retryUnwatched(): void {
    if (!this.running) return;
    this.watchAnchors();
    for (const dir of this.unwatched) {
      // Forget directories that left the set; the rest get a one-level rescan (which retries the watch).
      if (!this.roots.includes(dir) && this.tree.get(dir)?.kind !== 'dir') this.unwatched.delete(dir);
      else this.addDirty({ kind: 'rescan', path: dir, deep: false });
    }
    const retries = [...this.retries.values()];
    this.retries.clear();
    for (const item of retries) this.addDirty(item);
  }

  private warn(code: CaptureWarningCode, message: string, path?: string): void {
    this.log.warn({ code, path }, message);
    const now = Date.now();
    const last = this.lastWarning.get(code);
    if (last !== undefined && now - last < this.opts.warningRepeatMs) return;
    this.lastWarning.set(code, now);
    this.options.onWarning?.(path === undefined ? { code, message } : { code, message, path });
  }

  private later(fn: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  // ---- persistence and baseline hashing ----

  private schedulePersist(): void {
    if (this.persistTimer !== undefined || !this.running) return;
    this.persistTimer = setTimeout(() => {
      this.persistTimer = undefined;
      void this.enqueue(() => this.persist()).catch(nop);
    }, this.opts.persistIntervalMs);
    this.persistTimer.unref();
  }

  private async persist(): Promise<void> {
    if (this.running) this.commitIndex();
  }

  /** Runs in the capture's chain: every op planned so far has been handed on (onOps is awaited). */
  private commitIndex(): void {
    this.store.persist(this.tree);
    this.options.onPersisted?.();
  }

  /**
   * Holds the background block-index build while a mirror runs: both read every file, and the mirror is what
   * the operator waits for. Files changed meanwhile are sent whole once, as without an index.
   */
  holdBackgroundHashing(held: boolean): void {
    this.hashingHeld = held;
    if (held) this.hashAbort?.abort();
    else this.startHashing();
  }

  private hasHashWork(): boolean {
    return this.hashCursor !== undefined || this.hashPage.length > 0 || this.hashRetry.length > 0;
  }

  /** The next file for the background block-index build: from the walk over the index, then the retries. */
  private nextHashKey(): string | undefined {
    if (this.hashPage.length === 0 && this.hashCursor !== undefined) {
      this.hashPage = this.tree.unhashedFiles(this.hashCursor, HASH_PAGE);
      this.hashCursor = this.hashPage.length === 0 ? undefined : this.hashPage[this.hashPage.length - 1];
      this.hashPage.reverse(); // taken from the end
    }
    return this.hashPage.pop() ?? this.hashRetry.take();
  }

  private startHashing(): void {
    if (this.hashing || this.hashingHeld || !this.compared || !this.hasHashWork()) return;
    this.hashing = this.hashLoop().finally(() => {
      this.hashing = undefined;
    });
  }

  /**
   * Builds the block index of baseline files one at a time, beside the batches. A result is kept
   * only if the file was quiet before the read and unchanged after it, and no event touched it
   * meanwhile; otherwise the next change simply sends the whole file once.
   */
  private async hashLoop(): Promise<void> {
    while (this.running && !this.hashingHeld && this.hasHashWork()) {
      const key = this.nextHashKey();
      if (key === undefined) continue;
      const node = this.tree.node(key);
      if (!node || node.kind !== 'file' || node.hasHashes) continue;
      const [path] = node.paths;
      if (path === undefined) continue;
      this.hashInFlight = key;
      let changedWhileRead = false;
      try {
        const startedAt = Date.now();
        const before = await observePath(path);
        if (!before || before.key !== key) continue;
        if (before.mtimeMs >= startedAt - 2 * RACY_MARGIN_MS) {
          // Written moments ago: wait until it is quiet (a change meanwhile gives it an index anyway).
          this.hashRetry.push(key);
          await sleep(2 * RACY_MARGIN_MS);
          continue;
        }
        // Only a file large enough to be read in several steps can be interrupted (a mirror's hold, stopping).
        const abort = before.size >= INTERRUPTIBLE_HASH_BYTES ? (this.hashAbort = new AbortController()) : undefined;
        if (abort && (this.hashingHeld || !this.running)) abort.abort(); // held while the file was being looked at
        let hashes;
        try {
          hashes = await hashFile(path, { blockSize: chooseBlockSize(before.size), signal: abort?.signal });
        } catch (err) {
          if (!abort?.signal.aborted) throw err;
          this.hashRetry.push(key); // held by a mirror (or stopping): hash it again later
          continue;
        } finally {
          this.hashAbort = undefined;
        }
        const after = await observePath(path);
        await this.enqueue(async () => {
          const n = this.tree.node(key);
          const unchanged = after && after.key === key && after.size === before.size && after.mtimeMs === before.mtimeMs &&
            after.ctimeMs === before.ctimeMs && hashes.fileSize === before.size;
          if (!n || n.hasHashes) return;
          if (!unchanged || n.size !== before.size || n.mtimeMs !== before.mtimeMs || this.isDirty(path)) {
            // Changed while it was read: read it again once quiet, unless the change's own batch indexes it first.
            // A file that never reads the same twice (its size moves under every read) is left to its next change.
            const rereads = (this.hashRereads.get(key) ?? 0) + 1;
            if (rereads > MAX_HASH_REREADS) {
              this.hashRereads.delete(key);
              return;
            }
            this.hashRereads.set(key, rereads);
            this.hashRetry.push(key);
            changedWhileRead = true;
            return;
          }
          this.hashRereads.delete(key);
          this.tree.setHashes(key, fileHashes(hashes, startedAt));
          this.awaitingCount.at = -Infinity;
          this.schedulePersist();
        });
      } catch (err) {
        if (!isGone(err)) this.log.debug({ err, path }, 'baseline hash failed; a change will send the whole file');
      } finally {
        this.hashInFlight = undefined;
      }
      if (changedWhileRead) await sleep(2 * RACY_MARGIN_MS);
    }
  }

  private isDirty(path: string): boolean {
    for (const item of this.dirty.values()) {
      if (item.kind === 'path' && item.path === path) return true;
      if (item.kind === 'entry' && this.tree.dirPathOf(item.dirKey) === posix.dirname(path) && item.name === posix.basename(path)) return true;
    }
    return false;
  }
}
