// Fills the kernel's inotify event queue on purpose, for the tests of lost-event detection.
import fss from 'node:fs';
import { join } from 'node:path';

/** The kernel's inotify queue length (events one inotify instance holds before it drops the rest). */
export const MAX_QUEUED_EVENTS = (() => {
  try {
    return Number(fss.readFileSync('/proc/sys/fs/inotify/max_queued_events', 'utf8').trim());
  } catch {
    return NaN;
  }
})();

/** The queue is small enough for a test to fill in a second or two. */
export const QUEUE_FILLABLE = Number.isFinite(MAX_QUEUED_EVENTS) && MAX_QUEUED_EVENTS <= 200_000;

/**
 * Makes `events` inotify events in `dir` (time changes of two files, alternating so the kernel cannot merge them)
 * while this process's event loop is blocked, so nothing reads the queue meanwhile: beyond its length they are lost.
 */
export function burstWhileBlocked(dir: string, events: number): void {
  const names = [join(dir, 'burst-a'), join(dir, 'burst-b')];
  for (const n of names) fss.closeSync(fss.openSync(n, 'w'));
  for (let i = 0; i < events; i++) {
    const t = new Date(1_600_000_000_000 + i * 1000);
    fss.utimesSync(names[i % 2]!, t, t);
  }
}
