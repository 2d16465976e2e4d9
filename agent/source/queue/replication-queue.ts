// A job's replication queue: numbers operations, keeps the oldest in memory, spills the rest to segment
// files, hands them to the sender from any sequence number and drops them once the target acknowledges.
//
// Order: memory always holds the oldest ops. Once an op goes to disk, every later op goes to disk too,
// until all disk records are acknowledged (manual ch. 5, "Double-Take queue", steps 1-3).
//
// Durability: ops in memory are never durable. An op on disk is durable once `flush()` resolves (also
// after every `syncEveryBytes` of appends and at each segment roll). `close()` saves the memory part to
// disk when the limits allow, so a clean restart resumes without a remirror. After a crash the queue
// opens in the `broken` state (cause `ops_lost`): memory and unflushed ops may be gone, so the caller
// auto-disconnects, calls `discardAll()` and remirrors, as Double-Take does after a source restart.
//
// Delivery is at least once: acknowledgements are persisted lazily, so after a restart a few
// already-acknowledged ops may be resent; the target ignores seqs at or below what it has applied.
import { mkdir } from 'node:fs/promises';
import { TandemError } from '../../../shared/errors';
import { FreeSpaceProbe, defaultStatfs, type StatfsFn } from './free-space';
import { describeProblem, isDiskQueueEnabled, resolveQueueLimits, type QueueLimits } from './limits';
import { MemoryQueue } from './memory-queue';
import { encodeRecord, encodedRecordBytes } from './record-codec';
import { SegmentStore } from './segment-store';
import { readQueueState, writeQueueState } from './state-file';
import type {
  EnqueueResult, QueueOp, QueueProblem, QueueRecovery, QueueStats, QueuedRecord,
} from './types';

const MiB = 1024 * 1024;

export interface ReplicationQueueOptions extends Partial<QueueLimits> {
  /** Free-space source, injectable for tests. Default `fs.promises.statfs`. */
  statfs?: StatfsFn;
  /** Clock for enqueue timestamps. Default `Date.now`. */
  now?: () => number;
  /** fsync the current segment after this many appended bytes. Default 4 MiB. */
  syncEveryBytes?: number;
  /** Re-read free space at least this often while spilling. Default 1000 ms. */
  freeSpaceCheckIntervalMs?: number;
  /** Seq numbers reserved per state-file write (see `PersistedQueueState.seqReservedThrough`). Default 1,000,000. */
  seqReserveBlock?: number;
  /**
   * Called with each op's seq and header once it is queued, before any reader can see it (the path journal
   * notes what the op touches).
   */
  onEnqueued?: (seq: number, header: Record<string, unknown>) => void;
}

export interface ReadOptions {
  /** Encoded bytes fetched per batch. Default 1 MiB. */
  batchBytes?: number;
  /** Keep waiting for new ops instead of ending when caught up; ends on `signal` abort or `close()`. */
  follow?: boolean;
  signal?: AbortSignal;
}

export interface CloseSummary {
  /** Ops moved from memory to disk so they survive the restart. */
  savedOps: number;
  /** Ops in memory that could not be saved (the next open reports `ops_lost`). */
  droppedOps: number;
}

export class ReplicationQueue {
  private readonly memory = new MemoryQueue();
  private readonly lock = new SerialLock();
  private readonly waiters = new Set<() => void>();
  /** Bumped on every enqueue, discard, failure and close; lets followers know they missed nothing. */
  private changeVersion = 0;
  private closed = false;
  private oldestUnackedAt: number | null = null;

  private constructor(
    readonly dir: string,
    private limitsNow: QueueLimits,
    /** What `open` found on disk. */
    readonly recovery: QueueRecovery,
    private readonly store: SegmentStore,
    private readonly freeSpace: FreeSpaceProbe,
    private readonly now: () => number,
    private readonly syncEveryBytes: number,
    private readonly seqReserveBlock: number,
    private lastSeq: number,
    private ackedSeq: number,
    private seqReservedThrough: number,
    private problemState: QueueProblem | null,
    private readonly onEnqueued?: (seq: number, header: Record<string, unknown>) => void,
  ) {}

  /**
   * Opens (or creates) the queue in `dir`, one directory per job. Recovers sequence numbers and
   * unacknowledged disk records; cuts torn or corrupt segment tails. `dir` also holds the state file
   * when the disk queue is disabled (`diskMaxBytes: 0`).
   */
  static async open(dir: string, options: ReplicationQueueOptions = {}): Promise<ReplicationQueue> {
    const limits = resolveQueueLimits(pickLimits(options));
    const now = options.now ?? Date.now;
    await mkdir(dir, { recursive: true });

    const saved = await readQueueState(dir);
    const ackedSeq = saved?.ackedSeq ?? 0;
    const { store, scan } = await SegmentStore.open(dir, limits.segmentBytes, ackedSeq);
    const cleanShutdown = saved ? saved.cleanShutdown : store.segmentCount === 0;
    const diskLastSeq = store.lastSeq ?? 0;
    // After a crash, numbers up to the reservation may already have reached the target: skip them.
    const lastSeq = Math.max(diskLastSeq, ackedSeq, (cleanShutdown ? saved?.lastSeq : saved?.seqReservedThrough) ?? 0);

    const { gap, contiguousThrough } = store.coverage(ackedSeq);
    const lostSeqs = gap ?? (cleanShutdown && contiguousThrough < lastSeq ? { from: contiguousThrough + 1, to: lastSeq } : null);
    const recovery: QueueRecovery = {
      cleanShutdown,
      recoveredOps: store.unackedCount(ackedSeq),
      truncatedBytes: scan.truncatedBytes,
      lostSeqs,
    };

    let problem = saved?.problem ?? null;
    if (!problem && (lostSeqs || !cleanShutdown)) {
      const damage = scan.damaged.map((d) => `${d.file} at byte ${d.offset}: ${d.why}`).join('; ');
      const detail = [
        !cleanShutdown && 'the agent stopped without closing the queue (crash, kill or power loss)',
        lostSeqs && `seq ${lostSeqs.from}-${lostSeqs.to} missing`,
        damage && `damaged queue files cut: ${damage}`,
      ].filter(Boolean).join('; ');
      problem = describeProblem('ops_lost', { limits, dir, detail }, now());
    }

    const freeSpace = new FreeSpaceProbe(
      dir, options.statfs ?? defaultStatfs, options.freeSpaceCheckIntervalMs ?? 1000,
      Math.min(limits.segmentBytes, 64 * MiB), now,
    );
    const seqReserveBlock = options.seqReserveBlock ?? 1_000_000;
    const queue = new ReplicationQueue(
      dir, limits, recovery, store, freeSpace, now, options.syncEveryBytes ?? 4 * MiB, seqReserveBlock,
      lastSeq, ackedSeq, lastSeq + seqReserveBlock, problem, options.onEnqueued,
    );
    await queue.persistState(false);
    await queue.refreshOldestUnacked();
    if (isDiskQueueEnabled(limits)) {
      // A first reading for stats; a failure here shows up again, and is reported, on the first spill.
      await freeSpace.freeBytes(0, 0).catch(() => undefined);
    }
    return queue;
  }

  /** The limits in force (server settings); `setLimits` changes them while the queue is open. */
  get limits(): QueueLimits {
    return this.limitsNow;
  }

  /**
   * The server's queue settings changed: later enqueues are measured against the new limits. What is queued stays
   * where it is (memory above a lowered memory limit drains as the target acknowledges). An exhausted queue is not
   * revived here: the job reconnects through its own check (`roomToReconnect`).
   */
  setLimits(limits: QueueLimits): void {
    this.limitsNow = limits;
    this.freeSpace.invalidate();
  }

  /** The exhausted/broken condition, or null while the queue accepts ops. */
  get problem(): QueueProblem | null {
    return this.problemState;
  }

  /**
   * Assigns the next seq and queues the op. Returns `{ok: false, problem}` when the queue is exhausted
   * or broken; from then on every enqueue is refused (a later op must never be sent after a dropped
   * one) until `discardAll()`. Throws TypeError for a header that is not a JSON object.
   */
  enqueue(op: QueueOp): Promise<EnqueueResult> {
    return this.lock.run(async () => {
      this.assertOpen();
      if (this.problemState) return { ok: false, problem: this.problemState };
      const seq = this.lastSeq + 1;
      const enqueuedAt = this.now();
      const record: QueuedRecord = { seq, enqueuedAt, kind: op.kind, header: op.header as Record<string, unknown>, ...(op.payload ? { payload: Buffer.isBuffer(op.payload) ? op.payload : Buffer.from(op.payload.buffer, op.payload.byteOffset, op.payload.byteLength) } : {}) };
      const size = encodedRecordBytes(record);

      const diskHasUnacked = (this.store.lastSeq ?? 0) > this.ackedSeq;
      const toMemory = !diskHasUnacked && this.memory.bytes + size <= this.limitsNow.memoryMaxBytes;
      if (!toMemory) {
        const refusal = await this.checkDiskRoom(size);
        if (refusal) return { ok: false, problem: await this.fail(refusal) };
      }
      try {
        await this.reserveSeq(seq);
      } catch (err) {
        return { ok: false, problem: await this.fail(this.ioProblem(err)) };
      }
      if (toMemory) {
        this.memory.push({ record, size });
      } else {
        const bytes = encodeRecord(record);
        try {
          await this.store.append({ seq, bytes });
        } catch (err) {
          return { ok: false, problem: await this.fail(this.ioProblem(err)) };
        }
        this.freeSpace.recordWrite(bytes.length);
      }
      this.lastSeq = seq;
      this.onEnqueued?.(seq, record.header);
      this.oldestUnackedAt ??= enqueuedAt;
      if (this.store.pendingSyncBytes >= this.syncEveryBytes) {
        try {
          await this.store.sync();
        } catch (err) {
          return { ok: false, problem: await this.fail(this.ioProblem(err)) };
        }
      }
      this.notify();
      return { ok: true, seq };
    });
  }

  /**
   * Ops from `seq` on (never below `ackedSeq + 1`), in order, up to `maxBytes` of encoded size; always
   * at least one op when any is available. Throws TandemError `queue_ops_lost` when an op in the range
   * cannot be returned (it was lost in a crash or to a damaged file).
   */
  peekFrom(seq: number, maxBytes: number): Promise<QueuedRecord[]> {
    return this.lock.run(async () => {
      this.assertOpen();
      const start = Math.max(seq, this.ackedSeq + 1);
      if (start > this.lastSeq) return [];
      const out: QueuedRecord[] = [];
      let budget = maxBytes;
      for (const entry of this.memory.from(start)) {
        if (entry.size > budget && out.length > 0) return this.checkContiguous(start, out);
        out.push(entry.record);
        budget -= entry.size;
      }
      const next = out.length > 0 ? out.at(-1)!.seq + 1 : start;
      if (next <= this.lastSeq) {
        try {
          out.push(...(await this.store.read(next, budget, out.length === 0)));
        } catch (err) {
          await this.fail(this.ioProblem(err));
          throw err;
        }
      }
      return this.checkContiguous(start, out);
    });
  }

  /**
   * Async iteration from `seq`, batch by batch through `peekFrom`. Ends when caught up, or with
   * `follow` waits for new ops until `signal` aborts or the queue closes.
   */
  async *readFrom(seq: number, options: ReadOptions = {}): AsyncGenerator<QueuedRecord, void, undefined> {
    const { batchBytes = MiB, follow = false, signal } = options;
    let next = seq;
    while (!signal?.aborted && !this.closed) {
      const versionBefore = this.changeVersion; // an enqueue during the read must not be slept through
      const batch = await this.peekFrom(next, batchBytes);
      for (const record of batch) {
        yield record;
        next = record.seq + 1;
      }
      if (batch.length === 0) {
        if (!follow) return;
        if (this.changeVersion === versionBefore) await this.nextChange(signal);
      }
    }
  }

  /** The target has applied every op up to `seq`: drops them and deletes fully acknowledged segments. */
  ack(seq: number): Promise<void> {
    return this.lock.run(async () => {
      this.assertOpen();
      if (!Number.isSafeInteger(seq) || seq < 0) throw new TypeError(`ack seq must be a non-negative integer, got ${seq}`);
      if (seq > this.lastSeq) {
        throw new TandemError(
          'queue_ack_ahead',
          `target acknowledged seq ${seq} but the last queued op is ${this.lastSeq}; ` +
            'source and target disagree, reconnect and remirror the job',
          409,
        );
      }
      if (seq <= this.ackedSeq) return;
      this.ackedSeq = seq;
      this.memory.dropThrough(seq);
      if (this.store.droppableCount(seq) > 0) {
        try {
          // Persist the ack first: segments gone but an older ackedSeq on disk would look like lost ops.
          await this.persistState(false);
          await this.store.dropThrough(seq);
          this.freeSpace.invalidate();
        } catch (err) {
          await this.fail(this.ioProblem(err));
          throw err;
        }
      }
      await this.refreshOldestUnacked();
    });
  }

  /** Makes every op appended to disk so far durable. Ops in memory stay volatile. */
  flush(): Promise<void> {
    return this.lock.run(async () => {
      this.assertOpen();
      try {
        await this.store.sync();
      } catch (err) {
        await this.fail(this.ioProblem(err));
        throw err;
      }
    });
  }

  /**
   * For a queue whose records are all flushed before anyone is told they are queued (the target's, which
   * acknowledges an op only once it is on disk), an unclean shutdown lost nothing that was acknowledged: the
   * records on disk from the acknowledged seq on are everything (a torn tail was never acknowledged). Clears the
   * `ops_lost` state of a crash and numbers on right after the last record on disk. False, leaving the state as
   * it is, when records are missing in between (then only a remirror makes the copy whole).
   */
  recoverAfterCrash(): Promise<boolean> {
    return this.lock.run(async () => {
      this.assertOpen();
      if (!this.problemState) return true;
      if (this.problemState.cause !== 'ops_lost' || this.recovery.lostSeqs || this.memory.count > 0) return false;
      const { gap, contiguousThrough } = this.store.coverage(this.ackedSeq);
      if (gap) return false;
      this.lastSeq = Math.max(contiguousThrough, this.ackedSeq);
      this.problemState = null;
      await this.persistState(false);
      await this.refreshOldestUnacked();
      this.notify();
      return true;
    });
  }

  /** Free bytes in the queue directory's file system, read now (not estimated); null when statfs fails. */
  async freeBytesNow(): Promise<number | null> {
    this.freeSpace.invalidate();
    return this.freeSpace.freeBytes(0, 0).catch(() => null);
  }

  /**
   * For a queue whose refused ops are not lost (the target's: an op it could not queue was not acknowledged, so the
   * source sends it again), an exhausted state is only a pause: this forgets it, and the next enqueue looks at the
   * room again. A broken queue stays broken.
   */
  retryAfterExhaustion(): Promise<void> {
    return this.lock.run(async () => {
      this.assertOpen();
      if (this.problemState?.state !== 'exhausted') return;
      this.problemState = null;
      this.freeSpace.invalidate();
      await this.persistState(false);
    });
  }

  /**
   * Auto-disconnect / stop: drops every queued op, deletes the segment files and clears the
   * exhausted/broken state. Numbering continues; the job must remirror.
   */
  discardAll(): Promise<void> {
    return this.lock.run(async () => {
      this.assertOpen();
      this.memory.clear();
      try {
        await this.store.removeAll();
      } catch (err) {
        await this.fail(this.ioProblem(err));
        throw err;
      } finally {
        this.freeSpace.invalidate();
      }
      this.ackedSeq = this.lastSeq;
      this.oldestUnackedAt = null;
      this.problemState = null;
      await this.persistState(false);
      this.notify();
    });
  }

  stats(): QueueStats {
    return {
      memoryOps: this.memory.count,
      memoryBytes: this.memory.bytes,
      diskOps: this.store.unackedCount(this.ackedSeq),
      diskBytes: this.store.bytes,
      oldestUnackedAt: this.oldestUnackedAt,
      lastSeq: this.lastSeq,
      ackedSeq: this.ackedSeq,
      state: this.problemState?.state ?? 'ok',
      problem: this.problemState,
      diskFreeBytes: this.freeSpace.lastReading,
    };
  }

  /**
   * Saves the memory part to disk if the limits allow, syncs, and marks the shutdown clean.
   * Followers started with `readFrom(..., {follow: true})` end.
   */
  close(): Promise<CloseSummary> {
    return this.lock.run(async () => {
      if (this.closed) return { savedOps: 0, droppedOps: 0 };
      const summary: CloseSummary = { savedOps: 0, droppedOps: 0 };
      const pending = this.memory.count;
      if (pending > 0 && this.problemState) {
        summary.droppedOps = pending; // the queue already needs discardAll(); nothing worth saving
      } else if (pending > 0) {
        let refusal = await this.checkDiskRoom(this.memory.bytes);
        if (!refusal) {
          try {
            await this.store.prepend(this.memory.all().map((e) => ({ seq: e.record.seq, bytes: encodeRecord(e.record) })));
            summary.savedOps = pending;
          } catch (err) {
            refusal = this.ioProblem(err);
          }
        }
        if (refusal) {
          summary.droppedOps = pending;
          this.problemState = describeProblem('ops_lost', {
            limits: this.limitsNow, dir: this.dir,
            detail: `${pending} queued operations held in memory could not be saved at shutdown: ${refusal.reason}`,
          }, this.now());
        }
      }
      this.memory.clear();
      await this.store.close();
      await this.persistState(true);
      this.closed = true;
      this.notify();
      return summary;
    });
  }

  private checkContiguous(start: number, out: QueuedRecord[]): QueuedRecord[] {
    const brokenAt = out.findIndex((r, i) => r.seq !== start + i);
    if (out.length === 0 || brokenAt !== -1) {
      const from = start + (brokenAt === -1 ? out.length : brokenAt);
      throw new TandemError(
        'queue_ops_lost',
        `queued operation seq ${from} is no longer available (${this.problemState?.reason ?? 'lost'}); ` +
          'auto-disconnect, discard the queue and remirror the job',
        500,
      );
    }
    return out;
  }

  private async checkDiskRoom(bytes: number): Promise<QueueProblem | null> {
    const ctx = { limits: this.limitsNow, dir: this.dir };
    if (!isDiskQueueEnabled(this.limitsNow)) return describeProblem('memory_full', ctx, this.now());
    if (this.store.bytes + bytes > this.limitsNow.diskMaxBytes) return describeProblem('disk_limit', ctx, this.now());
    let free: number;
    try {
      free = await this.freeSpace.freeBytes(bytes, this.limitsNow.diskFreeMinBytes);
    } catch (err) {
      return this.ioProblem(err);
    }
    if (free - bytes < this.limitsNow.diskFreeMinBytes) {
      return describeProblem('disk_free', { ...ctx, freeBytes: free }, this.now());
    }
    return null;
  }

  private ioProblem(err: unknown): QueueProblem {
    return describeProblem('io_error', { limits: this.limitsNow, dir: this.dir, detail: errorText(err) }, this.now());
  }

  /** Enters the exhausted/broken state and records it so it survives a restart. */
  private async fail(problem: QueueProblem): Promise<QueueProblem> {
    const current = this.problemState ?? problem; // the first cause is the one worth reporting
    this.problemState = current;
    try {
      await this.persistState(false);
    } catch (err) {
      this.problemState = { ...current, reason: `${current.reason}; the queue state file could not be saved (${errorText(err)})` };
    }
    this.notify();
    return this.problemState;
  }

  /** Makes sure `seq` is covered by a persisted reservation before anyone can see it. */
  private async reserveSeq(seq: number): Promise<void> {
    if (seq <= this.seqReservedThrough) return;
    this.seqReservedThrough = seq - 1 + this.seqReserveBlock;
    await this.persistState(false);
  }

  private async persistState(cleanShutdown: boolean): Promise<void> {
    await writeQueueState(this.dir, {
      version: 1,
      lastSeq: this.lastSeq,
      ackedSeq: this.ackedSeq,
      seqReservedThrough: Math.max(this.seqReservedThrough, this.lastSeq),
      cleanShutdown,
      problem: this.problemState,
    });
  }

  private async refreshOldestUnacked(): Promise<void> {
    const inMemory = this.memory.oldest;
    if (inMemory) {
      this.oldestUnackedAt = inMemory.record.enqueuedAt;
    } else if (this.store.unackedCount(this.ackedSeq) > 0) {
      const seq = Math.max(this.ackedSeq + 1, this.store.firstSeq ?? 0);
      this.oldestUnackedAt = await this.store.enqueuedAtOf(seq);
    } else {
      this.oldestUnackedAt = null;
    }
  }

  private nextChange(signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  private notify(): void {
    this.changeVersion++;
    for (const wake of [...this.waiters]) wake();
  }

  private assertOpen(): void {
    if (this.closed) throw new TandemError('queue_closed', `the queue in ${this.dir} is closed; open it again`, 500);
  }
}

function pickLimits(o: ReplicationQueueOptions): Partial<QueueLimits> {
  const out: Partial<QueueLimits> = {};
  for (const key of ['memoryMaxBytes', 'diskMaxBytes', 'diskFreeMinBytes', 'segmentBytes', 'alertPercent'] as const) {
    if (o[key] !== undefined) out[key] = o[key];
  }
  return out;
}

function errorText(err: unknown): string {
  return err instanceof Error ? ((err as NodeJS.ErrnoException).code ?? err.message) : String(err);
}

/** Runs async sections one at a time, in call order. */
class SerialLock {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(section: () => Promise<T>): Promise<T> {
    const result = this.tail.then(section);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
