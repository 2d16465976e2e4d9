// Detects lost inotify events. libuv reads the kernel's event queue for every fs.watch of the process through one
// inotify instance and silently drops the IN_Q_OVERFLOW event that tells of a full queue, so the capture would never
// hear that events were lost. The sentinel keeps a canary in that same queue: it creates a file with the next number
// in a directory of its own and removes the one before (in a full queue those events are dropped like any other),
// and a canary that never arrives while a later one does means the queue overflowed in between.
//
// The canary goes in on a timer (when the loop has been blocked, the timer runs before the queue is read again) and
// after every few thousand events seen (a queue read while writers outpace the agent stays full).
import fss from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fsWatchDir, type DirWatch, type WatchFunction } from './dir-watcher';

/**
 * The canaries' order, apart from the I/O: `next()` names the canary to put in, `seen()` hears every name the
 * watch reports and answers true when a canary put in earlier was skipped (its events were dropped).
 */
export class CanaryTracker {
  private issued = 0;
  /** The highest canary number that has arrived. */
  private arrived = 0;

  next(): string {
    return String(++this.issued);
  }

  seen(name: string | null): boolean {
    if (name === null || !/^[1-9][0-9]*$/.test(name)) return false;
    const n = Number(name);
    // A removal reports the previous canary's name again, and it may be the first sighting of it when its creation
    // was dropped: only numbers beyond the last one arrived count, and only a jump over one is a loss.
    if (n <= this.arrived || n > this.issued) return false;
    const skipped = n > this.arrived + 1;
    this.arrived = n;
    return skipped;
  }
}

export interface OverflowSentinelOptions {
  /** Where the canary directory is made. Default /dev/shm when writable (no disk I/O), else the temp dir. */
  parentDir?: string;
  /** A canary at least this often. Default 50 ms. */
  tickMs?: number;
  /** And one after this many events seen by the capture. Default 2048 (the queue holds 16,384 by default). */
  eventsPerTick?: number;
  watch?: WatchFunction;
}

const DIR_PREFIX = 'tandem-inotify-canary-';

function defaultParent(): string {
  try {
    fss.accessSync('/dev/shm', fss.constants.W_OK);
    if (fss.statSync('/dev/shm').isDirectory()) return '/dev/shm';
  } catch { /* not there or not writable */ }
  return os.tmpdir();
}

/** Canary directories left by agents that were killed (their pid is gone). */
function removeStaleDirs(parent: string): void {
  let names: string[];
  try {
    names = fss.readdirSync(parent);
  } catch {
    return;
  }
  for (const name of names) {
    const m = new RegExp(`^${DIR_PREFIX}(\\d+)-`).exec(name);
    if (!m || Number(m[1]) === process.pid) continue;
    try {
      process.kill(Number(m[1]), 0);
      continue; // that agent still runs
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') continue;
    }
    fss.rmSync(path.join(parent, name), { recursive: true, force: true });
  }
}

export type OverflowListener = () => void;

/** The source of "events were lost" for a capture: subscribe while watching, and report each event seen. */
export interface OverflowSource {
  /** `unavailable` hears (at once, or later) that losses cannot be detected, and why. */
  subscribe(listener: OverflowListener, unavailable?: (reason: string) => void): () => void;
  noteEvent(): void;
}

export class OverflowSentinel implements OverflowSource {
  private readonly listeners = new Set<OverflowListener>();
  private readonly unavailableListeners = new Map<OverflowListener, (reason: string) => void>();
  private tracker = new CanaryTracker();
  private dir: string | null = null;
  private watch: DirWatch | null = null;
  private timer: NodeJS.Timeout | null = null;
  private eventsSinceTick = 0;
  private current: string | null = null;
  private readonly tickMs: number;
  private readonly eventsPerTick: number;
  /** Why the sentinel could not run (then nothing is detected, as before it existed). */
  failed: string | null = null;

  constructor(private readonly opts: OverflowSentinelOptions = {}) {
    this.tickMs = opts.tickMs ?? 50;
    this.eventsPerTick = opts.eventsPerTick ?? 2048;
  }

  subscribe(listener: OverflowListener, unavailable?: (reason: string) => void): () => void {
    this.listeners.add(listener);
    if (unavailable) this.unavailableListeners.set(listener, unavailable);
    if (this.listeners.size === 1) this.start();
    else if (this.failed !== null) unavailable?.(this.failed);
    return () => {
      this.unavailableListeners.delete(listener);
      if (!this.listeners.delete(listener)) return;
      if (this.listeners.size === 0) this.stop();
    };
  }

  noteEvent(): void {
    if (this.dir !== null && ++this.eventsSinceTick >= this.eventsPerTick) this.tick();
  }

  private start(): void {
    const parent = this.opts.parentDir ?? defaultParent();
    try {
      removeStaleDirs(parent);
      this.dir = fss.mkdtempSync(path.join(parent, `${DIR_PREFIX}${process.pid}-`));
      this.tracker = new CanaryTracker();
      this.current = null;
      this.watch = (this.opts.watch ?? fsWatchDir)(this.dir, (_event, name) => {
        if (this.tracker.seen(name)) this.lost();
      }, () => this.fail('the canary directory\'s watch failed'));
    } catch (err) {
      this.fail((err as Error).message);
      return;
    }
    this.timer = setInterval(() => this.tick(), this.tickMs);
    this.timer.unref();
    this.failed = null;
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.watch?.close();
    this.watch = null;
    if (this.dir) fss.rmSync(this.dir, { recursive: true, force: true });
    this.dir = null;
  }

  private fail(reason: string): void {
    this.failed = reason;
    this.stop();
    for (const hear of this.unavailableListeners.values()) hear(reason);
  }

  /** Puts the next canary in and takes the one before out. */
  private tick(): void {
    if (this.dir === null) return;
    this.eventsSinceTick = 0;
    const name = this.tracker.next();
    try {
      fss.closeSync(fss.openSync(path.join(this.dir, name), 'wx'));
      if (this.current !== null) fss.unlinkSync(path.join(this.dir, this.current));
      this.current = name;
    } catch (err) {
      this.fail(`canary: ${(err as Error).message}`);
    }
  }

  private lost(): void {
    for (const l of [...this.listeners]) l();
  }
}

let shared: OverflowSentinel | null = null;

/** The process's sentinel: libuv's one inotify queue is shared by every watch of the process. */
export function inotifyOverflowSentinel(): OverflowSentinel {
  shared ??= new OverflowSentinel();
  return shared;
}
