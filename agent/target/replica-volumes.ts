// The file system each replica root is on, remembered from the job's start, and a refusal to write when it is another:
// after a reboot without the replica's disk, its mount point is an empty directory of the system disk, and a mirror
// would write the whole replica there (filling that disk, while the real replica sits unmounted). Kept on disk through
// agent restarts; a stop of the job forgets it, so a replica moved between a stop and a start is recorded anew.
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { TandemError } from '../../shared/errors';
import { readJson, writeFileAtomic } from '../state-store';

const Recorded = z.object({ devices: z.record(z.string(), z.string()) });

/** The device of `dir`, or of the nearest directory above it that exists (a root not made yet is on its parent's). */
export function deviceAt(dir: string): string | null {
  for (let d = dir; ; d = path.posix.dirname(d)) {
    try {
      const st = fs.statSync(d, { throwIfNoEntry: false, bigint: true });
      if (st?.isDirectory()) return String(st.dev);
    } catch { /* a file in the way, or not readable: look above */ }
    if (d === '/') return null;
  }
}

/**
 * How long a root found on its own file system is not looked at again: the check runs on every operation, and a stat
 * each (about 5 µs here) would add a percent to a mirror of small files.
 */
const RECHECK_MS = 100;

export class ReplicaVolumes {
  /** Loaded once, shared by the checks that run at once (operations are applied concurrently). */
  private devices: Promise<Record<string, string>> | null = null;
  /** Writes of the record, one after the other. */
  private saving: Promise<void> = Promise.resolve();
  private readonly okUntil = new Map<string, number>();

  constructor(private readonly file: string, private readonly now: () => number = Date.now) {}

  /** Throws `replica_volume_changed` (503) when `root` is not on the file system recorded for it; records it first time. */
  async check(root: string): Promise<void> {
    const t = this.now();
    if ((this.okUntil.get(root) ?? 0) > t) return;
    this.devices ??= readJson(this.file, Recorded).then((r) => r?.devices ?? {});
    const devices = await this.devices;
    const now = deviceAt(root);
    if (now === null) return;
    const was = devices[root];
    if (was === undefined) {
      devices[root] = now;
      this.saving = this.saving.catch(() => {}).then(async () => {
        await fs.promises.mkdir(path.dirname(this.file), { recursive: true });
        await writeFileAtomic(this.file, JSON.stringify({ devices }));
      });
      await this.saving;
    } else if (was !== now) {
      throw new TandemError('replica_volume_changed', `The replica root ${root} is not on the file system it was on (device ${was}, now ${now}): its volume is not mounted, most likely. Nothing is written there meanwhile; mount it again and the job goes on by itself. If the replica is meant to move to this file system, stop and start the job (it mirrors there).`, 503);
    }
    this.okUntil.set(root, t + RECHECK_MS);
  }

  /** The job was stopped: its next start records the file systems anew. */
  async forget(): Promise<void> {
    this.devices = Promise.resolve({});
    this.okUntil.clear();
    await this.saving.catch(() => {});
    await fs.promises.rm(this.file, { force: true });
  }
}
