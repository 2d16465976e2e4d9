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

interface InFlight {
  paths: readonly string[];
  bytes: number;
  done: Promise<void>;
}

export class PathScheduler {
  private inFlight = new Set<InFlight>();
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
    const deps: Promise<void>[] = [];
    for (const f of this.inFlight) if (tasksConflict(f.paths, task.paths)) deps.push(f.done);
    const entry: InFlight = { paths: task.paths, bytes, done: Promise.resolve() };
    const finished = () => {
      this.inFlight.delete(entry);
      this.bytes -= bytes;
      // All of them: a large task's bytes may make room for several small ones.
      const waiters = this.roomWaiters;
      this.roomWaiters = [];
      for (const wake of waiters) wake();
    };
    entry.done = (deps.length ? Promise.all(deps).then(task.run) : task.run()).then(finished, finished);
    this.inFlight.add(entry);
    this.bytes += bytes;
  }

  /** Waits until every admitted task has finished. */
  async drain(): Promise<void> {
    while (this.inFlight.size) await Promise.all([...this.inFlight].map((f) => f.done));
  }
}
