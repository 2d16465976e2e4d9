// Free space in the queue directory's file system, via statfs, without a syscall per enqueued op.
import { statfs as nodeStatfs } from 'node:fs/promises';

/** The part of `fs.promises.statfs` the queue uses; injectable so tests can simulate a full disk. */
export type StatfsFn = (path: string) => Promise<{ bavail: number | bigint; bsize: number | bigint }>;

export const defaultStatfs: StatfsFn = (path) => nodeStatfs(path);

/**
 * Caches the last statfs reading and subtracts what the queue wrote since. It asks the file system
 * again when the reading is older than `maxAgeMs`, or when the estimate comes within `nearMarginBytes`
 * of the floor, so other writers on the volume are noticed before the minimum is crossed.
 */
export class FreeSpaceProbe {
  private lastFree: number | null = null;
  private lastCheckedAt = 0;
  private writtenSince = 0;

  constructor(
    private readonly dir: string,
    private readonly statfs: StatfsFn,
    private readonly maxAgeMs: number,
    private readonly nearMarginBytes: number,
    private readonly now: () => number,
  ) {}

  /** Free bytes at the last reading, null before the first. */
  get lastReading(): number | null {
    return this.lastFree;
  }

  /** Estimated free bytes now; re-reads statfs when stale or when `floor + bytesToWrite` is close. */
  async freeBytes(bytesToWrite: number, floor: number): Promise<number> {
    const estimate = this.lastFree === null ? null : this.lastFree - this.writtenSince;
    const stale = estimate === null || this.now() - this.lastCheckedAt >= this.maxAgeMs;
    if (stale || estimate - bytesToWrite < floor + this.nearMarginBytes) {
      const s = await this.statfs(this.dir);
      this.lastFree = Number(s.bavail) * Number(s.bsize);
      this.lastCheckedAt = this.now();
      this.writtenSince = 0;
      return this.lastFree;
    }
    return estimate;
  }

  recordWrite(bytes: number): void {
    this.writtenSince += bytes;
  }

  /** After deleting files: the next check reads the file system again. */
  invalidate(): void {
    this.lastCheckedAt = -Infinity;
  }
}
