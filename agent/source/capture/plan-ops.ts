// Pure planner: turns the end-of-batch state of the paths that had events into ordered operations
// against the model of what the target has (TreeIndex), updating the model as it goes.
//
// The watcher tells us which names changed, not how; one lstat per name gives the state at the end
// of the batch. The planner then works out the moves: an inode that left one path and shows up at
// another is a rename (never delete + re-send), a known inode with nlink > 1 at a new path is a hard
// link, anything else new is created. Ops come out in first-event order except where an op needs
// another first (a parent before its child, a path vacated before it is reused, a file moved out
// of a directory before the directory is deleted). Rename cycles (a <-> b) are broken by parking
// one side at a temporary name next to it.
import { posix } from 'node:path';
import type { FileMeta } from '../../../shared/protocol/ops';
import type { TreeIndex, TreeNode } from './tree-index';
import type { Observation, Observed, PlannedOp } from './types';

/**
 * A file whose mtime is this close to (or after) the moment we last read it may have been written
 * again within the same kernel timestamp tick, so its content is compared even when stat looks the
 * same (git's "racily clean" problem; Linux file timestamps advance once per jiffy, 1-10 ms).
 */
export const RACY_MARGIN_MS = 50;

/** Suffix of the temporary names used to break rename cycles; never visible on the source. */
export const TEMP_INFIX = '.tandem-swap-';

export const metaOf = (o: Observed): FileMeta => ({ mode: o.mode, uid: o.uid, gid: o.gid, mtimeMs: o.mtimeMs });

const parentOf = (path: string): string => posix.dirname(path);
const isUnder = (path: string, dir: string): boolean => dir === '/' ? path !== '/' : path.startsWith(dir + '/');
const isSameOrUnder = (path: string, dir: string): boolean => path === dir || isUnder(path, dir);

/** Whether the file content must be compared with the block index (stat alone cannot prove it unchanged). */
export function needsContentCheck(old: TreeNode, now: Observed, contentEvent: boolean): boolean {
  if (old.size !== now.size || old.mtimeMs !== now.mtimeMs) return true;
  if (old.hashes && now.mtimeMs >= old.hashes.hashedAtMs - RACY_MARGIN_MS) return true;
  // A write followed by a reset of mtime (touch -r, rsync -t) still moves ctime. So do chmod/chown
  // and link/unlink, but those show up as a metadata or link-count difference instead.
  return contentEvent && old.ctimeMs !== now.ctimeMs && !ownerOrModeDiffers(old, now) && old.nlink === now.nlink;
}

/** A file or symlink with more than one name (link(2) makes hard links to symlinks too; directories have none). */
const hasLinks = (o: Observed): boolean => o.kind !== 'dir' && o.nlink > 1;

const ownerOrModeDiffers = (a: Observed, b: Observed): boolean => a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid;

/**
 * Plans the ops that take the target from the model's state to the observed state, in order, and
 * applies them to `tree`. Observations must be in first-event order and already filtered by the
 * replication rules (an excluded path is observed as `now: null`). Paths not observed are assumed
 * unchanged, except that they move or disappear with their parent directory.
 */
export function planOps(observations: readonly Observation[], tree: TreeIndex): PlannedOp[] {
  return new Planner(observations, tree).run();
}

class Planner {
  private readonly desired = new Map<string, Observed | null>();
  private readonly contentEvent = new Map<string, boolean>();
  private readonly verify = new Set<string>();
  private readonly order: string[] = [];
  /** Inode → every observed path that wants it (where a displaced or rescued object should go). */
  private readonly wantedAt = new Map<string, string[]>();
  private readonly done = new Set<string>();
  private readonly inProgress = new Set<string>();
  private readonly temps = new Set<string>();
  /** Observed paths whose directory the model had when the plan began. */
  private readonly hadParent = new Set<string>();
  private tempCounter = 0;
  /** Phase 1 moves directories only; content changes wait until every directory is where it belongs. */
  private phase: 1 | 2 = 1;
  private readonly out: PlannedOp[] = [];

  constructor(observations: readonly Observation[], private readonly tree: TreeIndex) {
    for (const o of observations) {
      if (!this.desired.has(o.path)) this.order.push(o.path);
      this.desired.set(o.path, o.now);
      this.contentEvent.set(o.path, (this.contentEvent.get(o.path) ?? false) || o.content);
      if (o.verify) this.verify.add(o.path);
      if (o.now && this.tree.has(parentOf(o.path))) this.hadParent.add(o.path);
    }
    // Every desired placement, including ones the model already has: if the directory around one
    // is replaced, the object must be rescued before that directory is deleted.
    for (const path of this.order) {
      const want = this.desired.get(path);
      if (!want || this.desired.get(parentOf(path)) === null) continue; // inside a directory found gone: a stale look
      const list = this.wantedAt.get(want.key);
      if (list) list.push(path);
      else this.wantedAt.set(want.key, [path]);
    }
  }

  run(): PlannedOp[] {
    this.retireReusedInodes();
    for (const path of this.order) {
      const want = this.desired.get(path);
      if (want?.kind !== 'dir') continue;
      const at = this.tree.dirPathOf(want.key);
      if (at !== undefined && at !== path) this.settle(path);
    }
    this.phase = 2;
    for (const path of this.order) this.settle(path);
    for (const t of this.temps) {
      if (!this.tree.has(t)) continue;
      this.out.push({ op: 'delete', path: t });
      this.tree.removeSubtree(t);
    }
    return this.out;
  }

  /**
   * An inode number the model has as a file but now finds as a directory (or any other change of kind) was freed
   * and reused: the model's object is gone, wherever the model has it. Its names are deleted first, so it is
   * neither renamed into place (a file moved to where a directory is wanted) nor updated in place as the new one.
   */
  private retireReusedInodes(): void {
    for (const path of this.order) {
      const want = this.desired.get(path);
      const prior = want ? this.tree.node(want.key) : undefined;
      if (!want || !prior || prior.kind === want.kind) continue;
      for (const q of this.tree.pathsOf(want.key)) {
        this.out.push({ op: 'delete', path: q });
        this.tree.removeSubtree(q);
      }
    }
  }

  /** Brings one observed path to its observed state. */
  private settle(path: string): void {
    if (this.done.has(path) || this.inProgress.has(path)) return;
    this.inProgress.add(path);
    const want = this.desired.get(path) ?? null;
    if (want) this.ensureParent(path);
    const parent = parentOf(path);
    const parentLeft = !this.tree.has(parent) && (this.desired.has(parent) || this.hadParent.has(path));
    if (want && (this.desired.get(parent) === null || parentLeft)) {
      // Its directory was found gone, or left the model in this plan (deleted, its inode number now naming something
      // else; or moved away, even one that only arrived there in this plan): this look at it is older than that, so
      // nothing is made there (a file sent or renamed into it would re-create the directory on the target). If the
      // directory comes back, its listing brings it.
      this.inProgress.delete(path);
      this.done.add(path);
      return;
    }
    const occupant = this.tree.get(path);
    if (occupant && occupant.key !== want?.key) this.vacate(path, occupant, want);
    if (want) {
      const cur = this.tree.get(path);
      if (cur && cur.key === want.key) this.updateInPlace(path, cur, want);
      else this.arrive(path, want);
    }
    this.inProgress.delete(path);
    this.done.add(path);
  }

  /** Called first thing in settle(path), before the model is touched for it, so the parent may be settled. */
  private ensureParent(path: string): void {
    const parent = parentOf(path);
    if (parent === path || !this.desired.has(parent) || this.done.has(parent) || this.inProgress.has(parent)) return;
    if (this.phase === 1 && this.desired.get(parent)?.kind !== 'dir') return;
    this.settle(parent);
  }

  private canSettleNow(path: string): boolean {
    if (this.done.has(path)) return false;
    for (const p of this.inProgress) if (isSameOrUnder(path, p) || isUnder(p, path)) return false;
    if (this.phase === 1) return this.desired.get(path)?.kind === 'dir';
    return true;
  }

  /** A desired path, not yet settled, that wants the inode `key` (other than `except`). */
  private destinationOf(key: string, except: string): string | undefined {
    return this.wantedAt.get(key)?.find((p) => p !== except && !this.done.has(p) && this.tree.get(p)?.key !== key);
  }

  /** Gets the current occupant of `path` out of the way: moved to where it is wanted, parked, or deleted. */
  private vacate(path: string, occupant: TreeNode, want: Observed | null): void {
    const dest = this.destinationOf(occupant.key, path);
    if (dest !== undefined) {
      if (this.canSettleNow(dest)) this.settle(dest);
      if (this.tree.get(path)?.key === occupant.key) this.park(path);
      return;
    }
    if (occupant.kind === 'dir') this.rescueSubtree(path);
    // A file replaced by a renamed or new file: the target's rename replaces it atomically, so an
    // explicit delete would only open a window where the path is missing.
    const replaceable =
      occupant.kind !== 'dir' && want !== null && want.kind !== 'dir' &&
      (this.renameSource(path, want) !== undefined || (want.kind === 'file' && !this.isHardLink(path, want)));
    if (!replaceable) this.out.push({ op: 'delete', path });
    this.tree.removeSubtree(path);
  }

  /** Before a directory is deleted, moves out anything inside it that is wanted somewhere (even at the same path). */
  private rescueSubtree(dir: string): void {
    const keys = new Set<string>();
    for (const p of this.tree.subtreePaths(dir)) {
      const key = this.tree.get(p)?.key;
      if (p !== dir && key !== undefined && this.wantedAt.has(key)) keys.add(key);
    }
    for (const key of keys) {
      const names = this.tree.pathsOf(key);
      // A name outside survives the delete; a later hard link or rename can use it.
      if (names.length === 0 || names.some((p) => !isUnder(p, dir))) continue;
      const dests = this.wantedAt.get(key)!.filter((d) => !this.done.has(d));
      if (dests.length === 0) continue;
      const now = dests.find((d) => !isUnder(d, dir) && this.canSettleNow(d));
      if (now !== undefined) this.settle(now);
      const left = this.tree.pathsOf(key);
      if (left.length > 0 && left.every((p) => isUnder(p, dir))) this.park(left[0], dir);
    }
  }

  /**
   * Moves the object at `path` to a temporary name next to `near` (default: next to itself); it is
   * claimed from there by a later rename or deleted at the end of the plan.
   */
  private park(path: string, near = path): void {
    let temp: string;
    do temp = `${near}${TEMP_INFIX}${++this.tempCounter}`;
    while (this.tree.has(temp) || this.desired.has(temp));
    this.out.push({ op: 'rename', path: temp, from: path });
    this.tree.move(path, temp);
    this.temps.add(temp);
  }

  /** Whether the object now at `q` is leaving it (so a new path with the same inode is a rename, not a link). */
  private departs(q: string): boolean {
    for (let x = q; ; x = parentOf(x)) {
      if (this.temps.has(x)) return true;
      if (this.desired.has(x)) {
        const want = this.desired.get(x);
        const occ = this.tree.get(x);
        if (!want || !occ || want.key !== occ.key) return true;
        if (x === q) return false;
      }
      if (x === '/' || x === '.') return false;
    }
  }

  /**
   * The known path to rename from, if the observed object at `path` is one the model has elsewhere.
   * A directory or single-link file can only be in one place, so its old path is taken even when no
   * event was seen there (e.g. it came from a directory that could not be watched).
   */
  private renameSource(path: string, want: Observed): string | undefined {
    const others = this.tree.pathsOf(want.key).filter((q) => q !== path && !isSameOrUnder(path, q));
    const leaving = others.find((q) => this.departs(q));
    if (leaving !== undefined || hasLinks(want)) return leaving;
    return others[0];
  }

  private isHardLink(path: string, want: Observed): boolean {
    return hasLinks(want) && this.tree.pathsOf(want.key).some((q) => q !== path);
  }

  /** Puts the observed object at a free `path`: by rename, as a hard link, or created. */
  private arrive(path: string, want: Observed): void {
    const from = this.renameSource(path, want);
    if (from !== undefined) {
      this.out.push({ op: 'rename', path, from });
      this.tree.move(from, path);
      this.updateInPlace(path, this.tree.get(path)!, want);
      return;
    }
    if (this.isHardLink(path, want)) {
      const existing = this.tree.pathsOf(want.key).find((q) => q !== path)!;
      const node = this.tree.node(want.key)!;
      // What the target has at `existing` once the ops before this one are applied (a size of -1: not known).
      const expect = node.kind === 'file' && node.size >= 0 ? { expect: { size: node.size, mtimeMs: node.mtimeMs } } : {};
      this.out.push({ op: 'hardlink', path, existing, ...expect });
      this.linkName(path, node, want);
      return;
    }
    this.tree.add(path, want);
    if (want.kind === 'dir') this.out.push({ op: 'mkdir', path, meta: metaOf(want) });
    else if (want.kind === 'symlink') this.out.push({ op: 'symlink', path, target: want.target ?? '', meta: metaOf(want) });
    else this.out.push({ op: 'sendFile', path, key: want.key, meta: metaOf(want) });
  }

  /** Adds a hard-link name without refreshing the inode's stat, so content/meta changes are still detected. */
  private linkName(path: string, node: TreeNode, want: Observed): void {
    const before: Observed = { ...node };
    this.tree.add(path, before);
    this.updateInPlace(path, this.tree.get(path)!, want);
  }

  /** Same inode at the same path: send what changed about it. */
  private updateInPlace(path: string, cur: TreeNode, want: Observed): void {
    const content = this.contentEvent.get(path) ?? false;
    if (want.kind === 'file') {
      const verify = this.verify.has(path);
      if (verify || needsContentCheck(cur, want, content)) {
        this.tree.setStat(want);
        this.out.push({ op: 'sendChanges', path, key: want.key, full: verify });
        // Writes move mtime on the target too; metadata goes last to put the source's back.
        this.out.push({ op: 'meta', path, meta: metaOf(want) });
        return;
      }
      if (ownerOrModeDiffers(cur, want) || cur.mtimeMs !== want.mtimeMs) this.out.push({ op: 'meta', path, meta: metaOf(want) });
    } else if (want.kind === 'dir') {
      // Directory mtimes move with every entry added or removed; only mode and owner are replicated.
      if (ownerOrModeDiffers(cur, want)) this.out.push({ op: 'meta', path, meta: metaOf(want) });
    } else if (cur.target !== want.target || cur.uid !== want.uid || cur.gid !== want.gid) {
      this.out.push({ op: 'symlink', path, target: want.target ?? '', meta: metaOf(want) });
    }
    this.tree.setStat(want);
  }
}
