// The in-memory part of the queue: the oldest unacknowledged ops, kept as they were queued (no copy, no
// checksum: they are encoded only if they are ever written to disk).
import type { QueuedRecord } from './types';

export interface MemoryEntry {
  record: QueuedRecord;
  /** Size of the record once encoded: what it counts against the memory limit. */
  size: number;
}

/** FIFO of encoded records with strictly increasing seqs; O(1) push, drop-through and size. */
export class MemoryQueue {
  private entries: MemoryEntry[] = [];
  private head = 0;
  private totalBytes = 0;

  get count(): number {
    return this.entries.length - this.head;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  get oldest(): MemoryEntry | undefined {
    return this.entries[this.head];
  }

  push(entry: MemoryEntry): void {
    this.entries.push(entry);
    this.totalBytes += entry.size;
  }

  /** Drops entries with seq <= `seq`. */
  dropThrough(seq: number): void {
    while (this.head < this.entries.length && this.entries[this.head]!.record.seq <= seq) {
      this.totalBytes -= this.entries[this.head]!.size;
      this.entries[this.head] = undefined as unknown as MemoryEntry; // release the buffer now
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }

  /** Entries with seq >= `seq`, oldest first. */
  *from(seq: number): IterableIterator<MemoryEntry> {
    let lo = this.head;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.entries[mid]!.record.seq < seq) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.entries.length; i++) yield this.entries[i]!;
  }

  all(): MemoryEntry[] {
    return this.entries.slice(this.head);
  }

  clear(): void {
    this.entries = [];
    this.head = 0;
    this.totalBytes = 0;
  }
}
