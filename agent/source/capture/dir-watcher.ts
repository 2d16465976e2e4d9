// One non-recursive fs.watch (one inotify watch) per directory, keyed by the directory's inode so
// a watch keeps working when its directory is renamed. The watch function is injectable so tests
// can simulate the watch limit.
import { watch } from 'node:fs';

export type WatchEventType = 'rename' | 'change';
export type WatchListener = (event: WatchEventType, filename: string | null) => void;

export interface DirWatch {
  close(): void;
}

/** Starts watching one directory; throws like fs.watch (ENOSPC at the inotify watch limit). */
export type WatchFunction = (dir: string, onEvent: WatchListener, onError: (err: Error) => void) => DirWatch;

export const fsWatchDir: WatchFunction = (dir, onEvent, onError) => {
  const w = watch(dir, { persistent: false, recursive: false, encoding: 'utf8' }, (event, filename) =>
    onEvent(event === 'change' ? 'change' : 'rename', filename),
  );
  w.on('error', onError);
  return w;
};

export type WatchOutcome = 'watching' | 'limit' | 'gone' | 'failed';

export interface WatchFailure {
  path: string;
  outcome: Exclude<WatchOutcome, 'watching'>;
  error: Error;
}

/** inotify's "no more watches" (max_user_watches) shows up as ENOSPC; EMFILE is max_user_instances. */
const isLimit = (code: string | undefined): boolean => code === 'ENOSPC' || code === 'EMFILE';

export class WatchSet {
  private readonly byKey = new Map<string, DirWatch>();
  private readonly anchors = new Map<string, { watch: DirWatch; names: Set<string> }>();

  constructor(
    private readonly watchFn: WatchFunction,
    /** An event in the directory with inode `dirKey`. */
    private readonly onEvent: (dirKey: string, event: WatchEventType, filename: string | null) => void,
    /** An event for one of the root names in an anchor (a protected root's parent directory). */
    private readonly onAnchorEvent: (parent: string, name: string) => void,
    /** A watch reported an error after it was set up (its events can no longer be trusted). */
    private readonly onWatchError: (dirKey: string, err: Error) => void,
  ) {}

  get count(): number {
    return this.byKey.size + this.anchors.size;
  }

  has(dirKey: string): boolean {
    return this.byKey.has(dirKey);
  }

  keys(): string[] {
    return [...this.byKey.keys()];
  }

  /** Watches the directory now at `path` unless its inode is already watched. */
  ensure(dirKey: string, path: string): WatchFailure | null {
    if (this.byKey.has(dirKey)) return null;
    return this.start(dirKey, path);
  }

  /**
   * Re-adds the watch at the directory's new path, then drops the old handle. On a live watch this
   * is seamless (the kernel hands back the same watch); if the directory was deleted and its inode
   * reused, the old kernel watch is dead and this gives a working one.
   */
  renew(dirKey: string, path: string): WatchFailure | null {
    const old = this.byKey.get(dirKey);
    this.byKey.delete(dirKey);
    const failure = this.start(dirKey, path);
    old?.close();
    return failure;
  }

  close(dirKey: string): void {
    this.byKey.get(dirKey)?.close();
    this.byKey.delete(dirKey);
  }

  /** Watches a root's parent for the root's own name only (root renamed away, deleted or recreated). */
  ensureAnchor(parent: string, name: string): WatchFailure | null {
    const existing = this.anchors.get(parent);
    if (existing) {
      existing.names.add(name);
      return null;
    }
    const names = new Set([name]);
    try {
      const w = this.watchFn(
        parent,
        (_event, filename) => {
          if (filename !== null && names.has(filename)) this.onAnchorEvent(parent, filename);
        },
        () => {},
      );
      this.anchors.set(parent, { watch: w, names });
      return null;
    } catch (err) {
      return this.failure(parent, err as NodeJS.ErrnoException);
    }
  }

  closeAll(): void {
    for (const w of this.byKey.values()) w.close();
    for (const a of this.anchors.values()) a.watch.close();
    this.byKey.clear();
    this.anchors.clear();
  }

  private start(dirKey: string, path: string): WatchFailure | null {
    try {
      const w = this.watchFn(
        path,
        (event, filename) => {
          if (this.byKey.get(dirKey) === w) this.onEvent(dirKey, event, filename);
        },
        (err) => {
          if (this.byKey.get(dirKey) !== w) return;
          this.close(dirKey);
          this.onWatchError(dirKey, err);
        },
      );
      this.byKey.set(dirKey, w);
      return null;
    } catch (err) {
      return this.failure(path, err as NodeJS.ErrnoException);
    }
  }

  private failure(path: string, err: NodeJS.ErrnoException): WatchFailure {
    const outcome = isLimit(err.code) ? 'limit' : err.code === 'ENOENT' || err.code === 'ENOTDIR' ? 'gone' : 'failed';
    return { path, outcome, error: err };
  }
}
