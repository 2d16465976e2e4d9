// Turns a batch of dirty names into observations (end-of-batch lstat per path), following directory
// renames so that names recorded under a directory's old path are looked up under its new one, and
// listing directories that are new (their entries may predate the watch) or were rescanned.
import { posix } from 'node:path';
import { listDir, observePath } from './observe';
import type { TreeIndex } from './tree-index';
import type { EntryKind, Observation, Observed } from './types';
import { Fifo } from './fifo';

/** Something that needs looking at in the next batch. */
export type DirtyItem =
  /**
   * A name in a watched or listed directory, identified by the directory's inode (its path may have changed).
   * `deep` rescans it if it is a directory.
   */
  | { kind: 'entry'; dirKey: string; name: string; content: boolean; verify?: boolean; deep?: boolean }
  /** A path (anchor events, retries, deferred verification). `deep` rescans it if it is a directory. */
  | { kind: 'path'; path: string; content: boolean; deep?: boolean; verify?: boolean }
  /** List a directory and compare it with the model (watch overflow, watch limit, periodic rescan). */
  | { kind: 'rescan'; path: string; deep: boolean }
  /** A new directory's listing put off by a long walk (see maxQueued); it is already watched. `dirKey`: its inode. */
  | { kind: 'list'; path: string; dirKey?: string; content: boolean; deep: boolean; modelledAt?: string };

export interface ResolverContext {
  tree: TreeIndex;
  /** Whether an entry of this kind at this path is replicated (rules; directories leading to included entries count). */
  isTracked(path: string, kind: EntryKind): boolean;
  /** Whether the path could be tracked as anything (cheap pre-filter before lstat). */
  isCandidate(path: string): boolean;
  /** Whether a directory should be watched and listed (something below it may be included). */
  mayContainIncluded(dir: string): boolean;
  /** Watch the directory `key` now at `path` (renew: it moved; re-add the watch at the new path). */
  watchDir(key: string, path: string, renew: boolean): void;
  /** A path could not be read (not "missing": e.g. EACCES); the capture reports it and retries `retry` later. */
  cannotRead(path: string, err: unknown, retry: DirtyItem): void;
  /** Names in `dir` that are not UTF-8 (escaped): they cannot be replicated, and the capture says so. */
  namesNotUtf8?(dir: string, escaped: string[]): void;
  /** The inode a name not in the model was a further name of when its event arrived (a new hard link), if it was one. */
  linkedAt?(path: string): string | undefined;
  /**
   * Observations after which the batch stops and hands back what it has not looked at yet (default: no limit),
   * so a deep rescan of a million files is planned in slices instead of holding the whole tree at once.
   */
  maxObservations?: number;
  /**
   * While this many items wait, directories are listed only once the names already queued are looked at (default
   * 10,000): a walk of a million files breadth first would otherwise queue every name before observing one.
   */
  maxQueued?: number;
}

export interface ResolvedBatch {
  observations: Observation[];
  /** Items not looked at because the batch reached maxObservations: the next batch starts with them. */
  leftover: DirtyItem[];
}

const MAX_ROUNDS = 8;
const DEFAULT_MAX_QUEUED = 10_000;

/** Items that add a directory's names to the queue when handled. */
const expands = (item: DirtyItem): boolean => item.kind === 'rescan' || item.kind === 'list';

const join = (dir: string, name: string): string => (dir === '/' ? '/' + name : dir + '/' + name);

export function resolveBatch(items: readonly DirtyItem[], ctx: ResolverContext): Promise<ResolvedBatch> {
  return new BatchResolution(items, ctx).run();
}

class BatchResolution {
  private readonly queue: Fifo<DirtyItem>;
  private readonly obs = new Map<string, Observation>();
  /** When each observation was taken, in order (a later look is the newer state). */
  private readonly lookedAt = new Map<string, number>();
  private looks = 0;
  /** For observations found through a watched directory: which directory and name, to re-resolve after a move. */
  private readonly origin = new Map<string, { dirKey: string; name: string }>();
  /** Directories found at a new path in this batch (moved or new), by inode. */
  private readonly moved = new Map<string, string>();
  private readonly listed = new Set<string>();
  private readonly rescanned = new Set<string>();
  /** Queued items that expand (rescans, put-off listings). */
  private expanding = 0;
  private readonly maxQueued: number;

  constructor(items: readonly DirtyItem[], private readonly ctx: ResolverContext) {
    this.queue = new Fifo();
    for (const item of items) this.push(item);
    this.maxQueued = ctx.maxQueued ?? DEFAULT_MAX_QUEUED;
  }

  private push(item: DirtyItem): void {
    if (expands(item)) this.expanding++;
    this.queue.push(item);
  }

  private take(): DirtyItem {
    const item = this.queue.take()!;
    if (expands(item)) this.expanding--;
    return item;
  }

  /** Whether to put off expanding a directory: the queue is long and holds names to look at first. */
  private crowded(): boolean {
    return this.queue.length >= this.maxQueued && this.queue.length > this.expanding;
  }

  async run(): Promise<ResolvedBatch> {
    const max = this.ctx.maxObservations ?? Infinity;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      while (this.queue.length > 0 && this.obs.size < max) {
        const item = this.take();
        if (expands(item) && this.crowded()) this.push(item); // behind the names already queued
        else await this.handle(item);
      }
      // Names looked up before their directory's move was discovered: look again under the new path.
      for (const [path, o] of [...this.origin]) {
        const dir = this.dirPath(o.dirKey);
        const current = dir === undefined ? undefined : join(dir, o.name);
        if (current === path) continue;
        if (current !== undefined) this.lookAgain(path);
        else {
          this.obs.delete(path);
          this.origin.delete(path);
        }
      }
      // A directory seen at one path and then, later in the batch, at another (it moved while the batch was being
      // looked at): the first sighting is out of date. Whatever is at that path now is looked at again.
      for (const [path, o] of [...this.obs]) {
        const latest = o.now?.kind === 'dir' ? this.moved.get(o.now.key) : undefined;
        if (latest === undefined || latest === path) continue;
        this.lookAgain(path);
      }
      this.lookAgainAtOdds();
      if (this.queue.length === 0 || this.obs.size >= max) break;
    }
    // Only a batch cut short by the limit hands work on (one that ran out of rounds keeps its old behaviour: the
    // next event or rescan looks again), so slices always make progress.
    return { observations: [...this.obs.values()], leftover: this.obs.size >= max ? this.queue.toArray() : [] };
  }

  /**
   * A name seen present below a directory that the batch then found gone (or no longer a directory) was seen before
   * that directory went, moved or removed with it: planned as it stands, it would be put back under a path the source
   * no longer has. The older of the two looks is taken again (a directory found gone and then a name below it present:
   * the directory came back, and it is the one looked at again).
   */
  private lookAgainAtOdds(): void {
    for (const [path, o] of [...this.obs]) {
      if (!o.now || !this.obs.has(path)) continue;
      for (let dir = posix.dirname(path); dir !== path; dir = posix.dirname(dir)) {
        const above = this.obs.get(dir);
        if (above !== undefined) {
          if (above.now?.kind !== 'dir') this.lookAgain(this.lookedAt.get(path)! < this.lookedAt.get(dir)! ? path : dir);
          break; // the nearest one looked at; those above it are checked against it in turn
        }
        if (dir === '/') break;
      }
    }
  }

  /** Drops the observation of `path` and queues a new look: through its directory if it was found as a name in one. */
  private lookAgain(path: string): void {
    const o = this.obs.get(path);
    if (!o) return;
    const origin = this.origin.get(path);
    this.obs.delete(path);
    this.origin.delete(path);
    this.push(origin
      ? { kind: 'entry', dirKey: origin.dirKey, name: origin.name, content: o.content, verify: o.verify }
      : { kind: 'path', path, content: o.content, verify: o.verify });
  }

  /** Current path of a watched directory: its new path if it (or an ancestor) moved in this batch. */
  private dirPath(key: string): string | undefined {
    const direct = this.moved.get(key);
    if (direct !== undefined) return direct;
    const known = this.ctx.tree.dirPathOf(key);
    if (known === undefined || this.moved.size === 0) return known;
    for (let x = posix.dirname(known); ; x = posix.dirname(x)) {
      const k = this.ctx.tree.get(x)?.key;
      const to = k === undefined ? undefined : this.moved.get(k);
      if (to !== undefined) return to + known.slice(x.length);
      if (x === '/') return known;
    }
  }

  private itemPath(item: DirtyItem): string | undefined {
    if (item.kind !== 'entry') return item.path;
    const dir = this.dirPath(item.dirKey);
    return dir === undefined ? undefined : join(dir, item.name);
  }

  private async handle(item: DirtyItem): Promise<void> {
    if (item.kind === 'rescan') return this.rescan(item.path, item.deep);
    if (item.kind === 'list') {
      // Put off: the directory may have moved since (its names are then looked up where it is now).
      const dir = item.dirKey === undefined ? item.path : this.dirPath(item.dirKey);
      if (dir !== undefined) await this.list(dir, item.dirKey, item.content, item.deep, item.modelledAt);
      return;
    }
    const path = this.itemPath(item);
    if (path === undefined) return; // its directory is no longer known (deleted meanwhile)
    if (item.kind === 'entry') {
      await this.observe(path, item.content, { origin: { dirKey: item.dirKey, name: item.name }, verify: item.verify, deep: item.deep });
    } else {
      await this.observe(path, item.content, { deep: item.deep, verify: item.verify });
    }
  }


  private async observe(
    path: string, content: boolean,
    opts: { origin?: { dirKey: string; name: string }; deep?: boolean; verify?: boolean },
  ): Promise<void> {
    const existing = this.obs.get(path);
    if (existing) {
      existing.content ||= content;
      if (opts.verify) existing.verify = true;
      // Found again as a name in a watched directory: if that directory turns out to have moved, look again there.
      if (opts.origin && !this.origin.has(path)) this.origin.set(path, opts.origin);
      if (opts.deep && existing.now?.kind === 'dir') this.push({ kind: 'rescan', path, deep: true });
      return;
    }
    if (!this.ctx.isCandidate(path) && !this.ctx.tree.has(path)) return; // excluded, and never sent
    let now: Observed | null;
    try {
      now = await observePath(path);
    } catch (err) {
      this.ctx.cannotRead(path, err, { kind: 'path', path, content });
      return;
    }
    if (now && !this.ctx.isTracked(path, now.kind)) now = null;
    const o: Observation = { path, now, content };
    if (opts.verify) o.verify = true;
    this.obs.set(path, o);
    this.lookedAt.set(path, ++this.looks);
    if (opts.origin) this.origin.set(path, opts.origin);
    const modelled = this.ctx.tree.get(path)?.key;
    if (now === null || (modelled !== undefined && modelled !== now.key)) {
      // A name that went or now names another file (renamed over it), with its directory maybe, may have been written
      // through just before: the other names of the file it was are the only place that write is still visible, so
      // they are looked at (in full if a write was seen on it, or if it was a new link the model never had). Looked
      // up through their directory, like an event's name, so a directory moved meanwhile is followed.
      const linked = modelled !== undefined ? undefined : this.ctx.linkedAt?.(path);
      const others = linked === undefined ? this.ctx.tree.namesOutside(path) : this.ctx.tree.pathsOf(linked);
      const full = content || linked !== undefined;
      for (const other of others) {
        const dirKey = this.ctx.tree.get(posix.dirname(other))?.key;
        const verify = full || undefined;
        this.push(dirKey === undefined
          ? { kind: 'path', path: other, content: full, verify }
          : { kind: 'entry', dirKey, name: posix.basename(other), content: full, verify });
      }
    }
    if (now?.kind !== 'dir') return;

    const known = this.ctx.tree.dirPathOf(now.key);
    const watchable = this.ctx.mayContainIncluded(path);
    if (known === undefined) {
      // New here (created, or moved in from outside the set): watch first, then list, so an entry
      // created in between is seen by one or the other.
      this.moved.set(now.key, path);
      if (watchable) {
        this.ctx.watchDir(now.key, path, false);
        await this.listSoon(path, now.key, true, false);
      }
    } else if ((this.moved.get(now.key) ?? known) !== path) {
      // Moved (again: the latest sighting wins, so names in it found before are looked at again where it is now).
      this.moved.set(now.key, path);
      if (watchable) {
        this.ctx.watchDir(now.key, path, true);
        // The inode may be a reused one (old directory deleted, new one created): one level of
        // listing catches entries made before the renewed watch. The model's entries of the directory that the
        // listing lacks were removed (or moved away) since the model last saw it: nothing else would look for them
        // when the removal happened unwatched (the agent was down, the watch queue overflowed).
        await this.listSoon(path, now.key, false, opts.deep ?? false, known);
      }
    } else if (opts.deep && watchable) {
      this.push({ kind: 'rescan', path, deep: true });
    }
  }

  /** Lists a directory now, or (the queue being long) once the names queued before it have been looked at. */
  private async listSoon(dir: string, dirKey: string, content: boolean, deep: boolean, modelledAt?: string): Promise<void> {
    if (this.crowded()) this.push({ kind: 'list', path: dir, dirKey, content, deep, modelledAt });
    else await this.list(dir, dirKey, content, deep, modelledAt);
  }

  /**
   * Queues a look at every entry of `dir`; with `modelledAt` (where the model has this directory), also at each
   * entry the model has there that the listing lacks, under its name in `dir`, so that the planner removes it.
   * The names are queued as names in the directory `dirKey`, not as paths: should the directory (or one above it)
   * move before they are looked at, or after, within this batch, they are looked at again where it is now. A name
   * looked up at the old path a moment before the move would otherwise stand as a second, stale copy there.
   */
  private async list(dir: string, dirKey: string | undefined, content: boolean, deep: boolean, modelledAt?: string): Promise<string[] | undefined> {
    if (this.listed.has(dir)) return undefined;
    this.listed.add(dir);
    let names: string[];
    try {
      const listing = await listDir(dir);
      if (listing === null) return undefined;
      names = listing.names;
      if (listing.notUtf8.length) this.ctx.namesNotUtf8?.(dir, listing.notUtf8);
    } catch (err) {
      this.ctx.cannotRead(dir, err, { kind: 'rescan', path: dir, deep: false });
      return undefined;
    }
    for (const name of names) this.push(this.nameIn(dir, dirKey, name, content, deep));
    if (modelledAt !== undefined) this.pushVanished(dir, dirKey, names, modelledAt);
    return names;
  }

  /** Lists a directory and compares it with the model: new, changed and vanished entries. */
  private async rescan(dir: string, deep: boolean): Promise<void> {
    if (this.rescanned.has(dir)) return;
    this.rescanned.add(dir);
    await this.observe(dir, false, {});
    const self = this.obs.get(dir)?.now;
    if (!self || self.kind !== 'dir' || !this.ctx.mayContainIncluded(dir)) return;
    this.ctx.watchDir(self.key, dir, false);
    const names = await this.list(dir, self.key, false, deep);
    if (names) this.pushVanished(dir, self.key, names, dir);
  }

  /** Queues a look at each entry the model has in the directory at `modelledAt` whose name `names` lacks. */
  private pushVanished(dir: string, dirKey: string | undefined, names: readonly string[], modelledAt: string): void {
    const present = new Set(names);
    for (const child of this.ctx.tree.childPaths(modelledAt)) {
      const name = posix.basename(child);
      if (!present.has(name)) this.push(this.nameIn(dir, dirKey, name, false, false));
    }
  }

  private nameIn(dir: string, dirKey: string | undefined, name: string, content: boolean, deep: boolean): DirtyItem {
    return dirKey === undefined
      ? { kind: 'path', path: join(dir, name), content, deep }
      : { kind: 'entry', dirKey, name, content, ...(deep ? { deep } : {}) };
  }
}
