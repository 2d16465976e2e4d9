// One job's snapshots on the target: takes scheduled snapshots when `dueSnapshot` says so, keeps at most
// `keep` (oldest evicted by `snapshotsToEvict`), manual snapshots on request, and deletes them all at job stop.
import type { SnapshotSettings } from '../../../shared/jobs/failover-settings';
import { dueSnapshot, snapshotsToEvict } from '../../../shared/jobs/snapshot-plan';
import { errorText, startStep, type StepResult } from '../../failover/step-result';
import {
  deleteAllSnapshots, deleteSnapshot, listSnapshots, takeSnapshot,
  type SnapshotInfo, type SnapshotIoOptions, type SnapshotStepResult,
} from './snapshot-store';

export interface SnapshotManagerOptions extends SnapshotIoOptions {
  root: string;
  snapshotsDir: string;
  settings: SnapshotSettings;
  /** ms since epoch; default Date.now. */
  now?: () => number;
  /**
   * Called before a snapshot; returns the function that resumes. The target job uses it to hold the applier so
   * a copy snapshot sees no half-applied batch. Default: nothing held.
   */
  quiesce?: () => Promise<() => void | Promise<void>>;
  /** start(): each scheduled run's results (for the job log / hub report). */
  onRun?: (run: SnapshotRun) => void;
}

export interface SnapshotRun {
  taken: SnapshotStepResult;
  /** One result per snapshot deleted to stay within `keep`. */
  evicted: StepResult[];
}

/** Snapshot ids sort by time and read as a UTC timestamp: 20250301T030000Z, then -2, -3 within one second. */
export function snapshotIdFor(takenAt: number, existing: ReadonlySet<string>): string {
  const base = new Date(takenAt).toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
  if (!existing.has(base)) return base;
  for (let n = 2; ; n++) if (!existing.has(`${base}-${n}`)) return `${base}-${n}`;
}

/** takenAt of the newest scheduled snapshot: the schedule follows its own runs, not manual snapshots. */
export function lastScheduledAt(snapshots: readonly SnapshotInfo[]): number | null {
  let last: number | null = null;
  for (const s of snapshots) if (s.scheduled && (last === null || s.takenAt > last)) last = s.takenAt;
  return last;
}

const MAX_TIMER_MS = 60_000;

export class SnapshotManager {
  private settings: SnapshotSettings;
  private readonly now: () => number;
  private chain: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private running = false;

  constructor(private readonly opts: SnapshotManagerOptions) {
    this.settings = opts.settings;
    this.now = opts.now ?? Date.now;
  }

  updateSettings(settings: SnapshotSettings): void {
    this.settings = settings;
  }

  /** One operation at a time: a manual snapshot waits for a scheduled one in progress (manual 2.14). */
  private serial<T>(body: () => Promise<T>): Promise<T> {
    const run = this.chain.then(body, body);
    this.chain = run.catch(() => undefined);
    return run;
  }

  list(): Promise<SnapshotInfo[]> {
    return listSnapshots(this.opts.snapshotsDir);
  }

  /** When the next scheduled snapshot falls due (ms), or null when scheduling is off. */
  async nextDueAt(): Promise<number | null> {
    return dueSnapshot(this.settings, lastScheduledAt(await this.list()), this.now()).nextAt;
  }

  /** Takes the scheduled snapshot if one is due (then evicts); null when none is due. Never throws. */
  tick(): Promise<SnapshotRun | null> {
    return this.serial(async () => {
      let snapshots: SnapshotInfo[];
      try {
        snapshots = await this.list();
      } catch (err) {
        return { taken: startStep('snapshot.take').fail(`Scheduled snapshot skipped: ${errorText(err)}`), evicted: [] };
      }
      if (!dueSnapshot(this.settings, lastScheduledAt(snapshots), this.now()).due) return null;
      return this.takeAndEvict(true, snapshots);
    });
  }

  /** A snapshot on request ("Take Snapshot"); counts toward `keep` like scheduled ones. Never throws. */
  takeNow(): Promise<SnapshotRun> {
    return this.serial(async () => {
      let snapshots: SnapshotInfo[];
      try {
        snapshots = await this.list();
      } catch (err) {
        return { taken: startStep('snapshot.take').fail(`Snapshot not taken: ${errorText(err)}`), evicted: [] };
      }
      return this.takeAndEvict(false, snapshots);
    });
  }

  delete(id: string): Promise<StepResult> {
    return this.serial(() => deleteSnapshot(this.opts.snapshotsDir, id, this.opts));
  }

  /** Deletes every snapshot of the job (job stop). */
  deleteAll(): Promise<StepResult> {
    return this.serial(() => deleteAllSnapshots(this.opts.snapshotsDir, this.opts));
  }

  private async takeAndEvict(scheduled: boolean, before: SnapshotInfo[]): Promise<SnapshotRun> {
    const takenAt = this.now();
    const id = snapshotIdFor(takenAt, new Set(before.map((s) => s.id)));
    let resume: (() => void | Promise<void>) | undefined;
    let taken: SnapshotStepResult;
    try {
      resume = await this.opts.quiesce?.();
      taken = await takeSnapshot(this.opts.root, this.opts.snapshotsDir, id, { ...this.opts, scheduled, now: () => takenAt });
    } catch (err) {
      taken = startStep('snapshot.take').fail(`Could not pause replication for the snapshot: ${errorText(err)}`);
    }
    try {
      await resume?.();
    } catch (err) {
      taken = { ...taken, ok: false, detail: `${taken.detail} Resuming replication afterwards failed (${errorText(err)}); restart the job.` };
    }
    const evicted: StepResult[] = [];
    if (!taken.ok || !taken.snapshot) return { taken, evicted };
    for (const old of snapshotsToEvict([...before, taken.snapshot], this.settings.keep)) {
      evicted.push(await deleteSnapshot(this.opts.snapshotsDir, old.id, this.opts));
    }
    return { taken, evicted };
  }

  /** Runs tick() whenever a snapshot may be due (re-checked at least every minute) until stop(). */
  start(): void {
    if (this.running) return;
    this.running = true;
    void this.loop();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private async loop(): Promise<void> {
    if (!this.running) return;
    const run = await this.tick();
    if (run) this.opts.onRun?.(run);
    let wait = MAX_TIMER_MS;
    try {
      const next = await this.nextDueAt();
      if (next !== null) wait = Math.min(MAX_TIMER_MS, Math.max(1000, next - this.now()));
    } catch { /* reported by the next tick */ }
    if (!this.running) return;
    this.timer = setTimeout(() => void this.loop(), wait);
    this.timer.unref();
  }
}
