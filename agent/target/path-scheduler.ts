// Runs operations on paths concurrently while keeping the order of any two that touch the same path or a path
// and its ancestor: a file's chunks stay in order, a directory exists before its files are written, and a
// directory's metadata is set after everything inside it. Operations on unrelated paths (files in different
// directories, most of a mirror) overlap, which is what makes file creation fast where the file system
// serialises creates per directory.

export interface PathTask {
  paths: readonly string[];
  /** Bytes the task holds until it has run (its payload), counted against the scheduler's byte budget. */
  bytes?: number;
  run: () => Promise<void>;
}

export interface SchedulerLimits {
  /** Tasks admitted (waiting for an earlier conflicting task, or running) at once. */
  maxTasks: number;
  /** Payload bytes held by admitted tasks; a single larger task is still admitted when nothing else is. */
  maxBytes: number;
}

/**
 * True when `a` is `b` or one is inside the other, compared as written. Not shared/paths' pathsOverlap: that one
 * normalises (and throws on) its input, while these are the raw paths of operations not yet checked by
 * ReplicaFs (a refused path must still be scheduled, to be refused in order), compared once per pair per op.
 */
export function opPathsOverlap(a: string, b: string): boolean {
  if (a === b) return true;
  const [short, long] = a.length < b.length ? [a, b] : [b, a];
  return long.startsWith(short === '/' ? '/' : `${short}/`);
}

export function tasksConflict(a: readonly string[], b: readonly string[]): boolean {
  for (const x of a) for (const y of b) if (opPathsOverlap(x, y)) return true;
  return false;
}

/**
 * The paths that `p` is inside, as opPathsOverlap sees them: `p` cut before each '/', and '/' for an absolute path.
 * Two paths overlap exactly when they are equal or one is among the other's enclosing paths.
 */
export function enclosingPaths(p: string): string[] {
  const out: string[] = [];
  for (let i = p.indexOf('/'); i >= 0; i = p.indexOf('/', i + 1)) out.push(p.slice(0, i));
  if (p.length > 1 && p[0] === '/' && p[1] !== '/') out.push('/');
  return out;
}

/** The index keys of a task: its own paths, and those with every path enclosing them. */
interface IndexKeys {
  own: Set<string>;
  all: Set<string>;
}

function indexKeys(paths: readonly string[]): IndexKeys {
  const own = new Set(paths);
  const all = new Set<string>();
  for (const p of own) {
    all.add(p);
    for (const e of enclosingPaths(p)) all.add(e);
  }
  return { own, all };
}

interface InFlight {
  keys: IndexKeys;
  bytes: number;
  done: Promise<void>;
}

/** Admitted tasks by path, so finding the ones a new task conflicts with costs the depth of its paths, not the number admitted. */
class InFlightIndex {
  /** Tasks by each of their paths. */
  private at = new Map<string, Set<InFlight>>();
  /** Tasks by each of their paths and every path enclosing those. */
  private within = new Map<string, Set<InFlight>>();

  private static put(map: Map<string, Set<InFlight>>, key: string, f: InFlight): void {
    let set = map.get(key);
    if (!set) map.set(key, (set = new Set()));
    set.add(f);
  }

  private static take(map: Map<string, Set<InFlight>>, key: string, f: InFlight): void {
    const set = map.get(key);
    if (!set) return;
    set.delete(f);
    if (!set.size) map.delete(key);
  }

  add(f: InFlight): void {
    for (const k of f.keys.own) InFlightIndex.put(this.at, k, f);
    for (const k of f.keys.all) InFlightIndex.put(this.within, k, f);
  }

  remove(f: InFlight): void {
    for (const k of f.keys.own) InFlightIndex.take(this.at, k, f);
    for (const k of f.keys.all) InFlightIndex.take(this.within, k, f);
  }

  /**
   * The admitted tasks touching one of the task's own paths or anything inside it (`within`), or a directory enclosing
   * one (`at`). An enclosing path that is also one of its own is looked up in `within`, which holds `at` too.
   */
  conflicting(keys: IndexKeys): Set<InFlight> {
    const out = new Set<InFlight>();
    for (const k of keys.all) for (const f of (keys.own.has(k) ? this.within : this.at).get(k) ?? []) out.add(f);
    return out;
  }
}

export class PathScheduler {
  private inFlight = new Set<InFlight>();
  private index = new InFlightIndex();
  private bytes = 0;
  /**
   * Submitters waiting for room; every finished task wakes them to check again. (A Promise.race over every
   * in-flight task would leave a reaction on each of them per wait: thousands per long task in a large batch.)
   */
  private roomWaiters: Array<() => void> = [];

  constructor(private readonly limits: SchedulerLimits) {}

  get size(): number {
    return this.inFlight.size;
  }

  get heldBytes(): number {
    return this.bytes;
  }

  private full(bytes: number): boolean {
    if (this.inFlight.size === 0) return false;
    return this.inFlight.size >= this.limits.maxTasks || this.bytes + bytes > this.limits.maxBytes;
  }

  /**
   * Admits a task: it starts once every earlier admitted task it conflicts with has finished. Resolves when
   * the task is admitted (there was room), not when it has run. The task must handle its own errors.
   */
  async submit(task: PathTask): Promise<void> {
    const bytes = task.bytes ?? 0;
    while (this.full(bytes)) await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
    const keys = indexKeys(task.paths);
    const deps = [...this.index.conflicting(keys)].map((f) => f.done);
    const entry: InFlight = { keys, bytes, done: Promise.resolve() };
    const finished = () => {
      this.inFlight.delete(entry);
      this.index.remove(entry);
      this.bytes -= bytes;
      // All of them: a large task's bytes may make room for several small ones.
      const waiters = this.roomWaiters;
      this.roomWaiters = [];
      for (const wake of waiters) wake();
    };
    entry.done = (deps.length ? Promise.all(deps).then(task.run) : task.run()).then(finished, finished);
    this.inFlight.add(entry);
    this.index.add(entry);
    this.bytes += bytes;
  }

  /** Waits until every admitted task has finished. */
  async drain(): Promise<void> {
    while (this.inFlight.size) await Promise.all([...this.inFlight].map((f) => f.done));
  }
}
