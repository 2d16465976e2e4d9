// Continuous replication on the source: captured operations get sequence numbers in the job's queue (memory,
// then disk) and are streamed to the target in order; only what the target acknowledged as durable is dropped.
import path from 'node:path';
import type { FileOp } from '../../shared/protocol/ops';
import { encodeFrameParts, FrameType, createByteCounter } from '../../shared/protocol/frames';
import { CompressionGate } from '../../shared/protocol/compression-gate';
import type { ReplicationStatus, TransmitMode } from '../../shared/states';
import { TandemError } from '../../shared/errors';
import { backoffDelay } from '../../shared/backoff';
import { ReplicationQueue, resolveQueueLimits, roomToReconnect, type QueueLimits, type QueueStats } from './queue';
import { PathJournal } from './queue/path-journal';
import type { PeerClient } from '../peer/client';
import { requestBytesFor } from '../peer/bandwidth';
import { ReplicateAnswer } from '../../shared/protocol/data-port';
import type { AgentLogger } from '../log';

/** An idle source exchanges (empty) with the target once this long after the last contact. */
const IDLE_EXCHANGE_MS = 1000;

export interface CapturedOp {
  op: FileOp;
  payload?: Buffer;
}

/**
 * Largest batch of queued bytes sent in one request. The target applies a request in 4 MiB pieces while the rest
 * of it arrives, so a larger request keeps both agents busy; 32 MiB replicated a 1 GiB write about a third faster
 * than 8 MiB (one 4 MiB operation per request), 64 MiB no faster than 32.
 */
const SEND_BATCH_BYTES = 32 * 1024 * 1024;

export interface ReplicatorOptions {
  jobId: string;
  dataDir: string;
  limits: Partial<QueueLimits>;
  compression: number;
  peer: () => PeerClient;
  log: AgentLogger;
  onChange: () => void;
  /** The queue ran out of room: the job auto-disconnects and needs a difference mirror (then see `lostPaths`). */
  onExhausted: (reason: string) => void;
  /** The target asks for a difference mirror (replication goes on meanwhile). */
  onRemirror?: (reason: string) => void;
  /** The target found these paths missing: capture sends them again. */
  onResend?: (paths: string[]) => void;
}

export class Replicator {
  private queue!: ReplicationQueue;
  private running = false;
  private paused = false;
  private wakeUp: (() => void) | null = null;
  /** Mirror batches being read and sent (see `holdDuring`): no replication request starts meanwhile. */
  private holds = 0;
  /** A replication request (or idle exchange) is on its way to the target. */
  private exchanging = false;
  private exchangeDone: Array<() => void> = [];
  private loop: Promise<void> | null = null;
  private abort = new AbortController();
  private attempt = 0;
  readonly wire = createByteCounter();
  /** Skips compressing after payloads that did not shrink (already compressed or encrypted data). */
  private readonly compressionGate = new CompressionGate();
  private opsSent = 0;
  private bytesSent = 0;
  private rate = { at: Date.now(), ops: 0, opsPerSec: 0 };
  lastError: string | null = null;
  connected = false;
  targetBlocked: ReplicateAnswer['blocked'] = null;
  exhaustedReason: string | null = null;
  autoDisconnects = 0;
  /** Last successful exchange with the target (any request), for self-fencing. */
  lastContactAt: number | null = null;
  private journal!: PathJournal;
  /** Paths of operations lost with the queue (crash, exhaustion), until the job has dealt with them. */
  private lost: { paths: string[]; complete: boolean } | null = null;

  constructor(private o: ReplicatorOptions) {}

  /** Opens the job's queue. Returns false when ops may have been lost (crash): the caller must remirror. */
  async open(): Promise<boolean> {
    this.journal = PathJournal.open(path.join(this.o.dataDir, 'jobs', this.o.jobId, 'queued-paths'));
    this.queue = await ReplicationQueue.open(path.join(this.o.dataDir, 'jobs', this.o.jobId, 'queue'), {
      ...resolveQueueLimits(this.o.limits),
      onEnqueued: (seq, header) => this.journal.record(seq, opPaths(header)),
    });
    // After a crash (the queue then always reports a problem) what the journal still names is not known to be in the
    // capture's committed index, or not applied on the target: acknowledged is not enough, the index may be older
    // than the target. After a clean stop the index was committed with everything and the queue kept what is left.
    if (this.queue.problem) {
      this.o.log.warn({ job: this.o.jobId, problem: this.queue.problem.reason }, 'replication queue not intact after restart; discarding it for a difference mirror');
      this.noteLost(0);
      await this.queue.discardAll();
      return false;
    }
    return true;
  }

  /** The capture committed its index: it records every operation queued so far. */
  indexCommitted(): void {
    this.journal.indexed(this.queue.stats().lastSeq);
  }

  /** Reads the journal's paths of the operations after `seq` before the queue drops them. */
  private noteLost(after: number, refused: string[] = []): void {
    const found = this.journal.pathsAfter(after);
    const paths = new Set([...(this.lost?.paths ?? []), ...found.paths, ...refused]);
    this.lost = { paths: [...paths], complete: found.complete && (this.lost?.complete ?? true) };
    this.journal.pin();
    if (this.journal.failure) this.o.log.warn({ job: this.o.jobId, problem: this.journal.failure }, 'paths of lost operations may be incomplete');
  }

  /**
   * Paths that operations lost with the queue touched (possibly applied on the target, then changed by a lost
   * one): the job removes from the target those the source no longer has. `complete` false: more were lost than
   * listed (or the journal could not be written), so a verify is the way to find what else is left on the target.
   */
  lostPaths(): { paths: string[]; complete: boolean } | null {
    return this.lost;
  }

  /** The job has queued the repair of the lost paths: the journal may forget them once acknowledged and indexed. */
  lostPathsHandled(): void {
    this.lost = null;
    this.journal.unpin();
  }

  async enqueue(ops: CapturedOp[]): Promise<void> {
    for (const [i, { op, payload }] of ops.entries()) {
      const r = await this.queue.enqueue({ kind: 'op', header: op, payload });
      if (!r.ok) {
        // Auto-disconnect (manual): drop the queue; a difference mirror with block checksums repairs the target.
        this.exhaustedReason = r.problem.reason;
        this.autoDisconnects++;
        this.o.log.warn({ job: this.o.jobId, reason: r.problem.reason }, 'queue exhausted: auto-disconnect');
        // This op and the rest of the batch were refused: the capture's model has them, the target does not.
        // The capture's index is current here (it is not a restart): the unacknowledged operations are the lost ones.
        this.noteLost(this.queue.stats().ackedSeq, ops.slice(i).flatMap((o) => opPaths(o.op)));
        await this.queue.discardAll();
        this.o.onExhausted(r.problem.reason);
        this.o.onChange();
        return;
      }
    }
    // Before the capture records these ops in its index: a crash after that is repaired from the journal.
    this.journal.flush();
    this.wakeUp?.();
  }

  /** Drops everything queued (stop, or before a remirror). */
  async discard(): Promise<void> {
    await this.queue.discardAll();
    this.lost = null;
    this.journal.clear();
  }

  /** The server's queue settings, on every poll: a change applies to this running job's queue from now on. */
  setLimits(limits: Partial<QueueLimits>): void {
    if (!this.queue) return;
    const next = resolveQueueLimits(limits);
    if (JSON.stringify(next) === JSON.stringify(this.queue.limits)) return;
    this.queue.setLimits(next);
    this.o.log.info({ job: this.o.jobId, limits: next }, 'queue limits changed');
    this.o.onChange();
  }

  /** Whether the queue has room again after an auto-disconnect (see `roomToReconnect`). */
  async roomToReconnect(): Promise<{ ok: true } | { ok: false; reason: string }> {
    return roomToReconnect(this.queue.limits, await this.queue.freeBytesNow());
  }

  clearExhausted(): void {
    this.exhaustedReason = null;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    this.loop = this.sendLoop();
  }

  setPaused(paused: boolean): void {
    this.paused = paused;
    if (!paused) this.wakeUp?.();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    this.wakeUp?.();
    await this.loop?.catch(() => {});
    this.loop = null;
  }

  async close(): Promise<void> {
    await this.stop();
    await this.queue?.close().catch(() => {});
    this.journal?.close();
  }

  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() { clearTimeout(t); resolve(); }
      this.wakeUp = () => { this.wakeUp = null; done(); };
    });
  }

  /**
   * Runs `fn` (a mirror batch: read from the source and sent) with replication held: a request already on its way
   * finishes first, and none starts until `fn` is done. So a change made while the batch reads the files reaches the
   * target after the batch, never before it (a rename applied first would leave the batch's copy under the old name).
   */
  async holdDuring<T>(fn: () => Promise<T>): Promise<T> {
    this.holds++;
    try {
      while (this.exchanging) await new Promise<void>((resolve) => this.exchangeDone.push(resolve));
      return await fn();
    } finally {
      this.holds--;
      if (this.holds === 0) this.wakeUp?.();
    }
  }

  /** One request to the target, unless a mirror batch holds replication (then null: try again later). */
  private async exchange<T>(fn: () => Promise<T>): Promise<T | null> {
    if (this.holds > 0) return null;
    this.exchanging = true;
    try {
      return await fn();
    } finally {
      this.exchanging = false;
      for (const done of this.exchangeDone.splice(0)) done();
    }
  }

  private async sendLoop(): Promise<void> {
    while (this.running) {
      if (this.holds > 0) {
        await this.wait(1000);
        continue;
      }
      if (this.paused) {
        await this.wait(1000);
        continue;
      }
      const stats = this.queue.stats();
      if (stats.lastSeq <= stats.ackedSeq) {
        // Idle for a second: an empty exchange keeps the link (and the self-fencing clock) honest and hears what the
        // target asks for while it applies from its own queue (paths to send again, a difference mirror), which
        // otherwise would wait for the next change on the source. Not right after a send: a change arriving during
        // the exchange would wait for it (the replication lag benchmark's p99 rose by 40 ms).
        if (Date.now() - (this.lastContactAt ?? 0) >= IDLE_EXCHANGE_MS) await this.idleExchange();
        await this.wait(IDLE_EXCHANGE_MS);
        continue;
      }
      try {
        const records = await this.queue.peekFrom(stats.ackedSeq + 1, requestBytesFor(this.o.peer().limit.rate(), SEND_BATCH_BYTES));
        if (!records.length) {
          await this.wait(50);
          continue;
        }
        const level = this.o.compression;
        const wire = this.wire;
        const gate = this.compressionGate;
        async function* frames() {
          for (const r of records) {
            yield* encodeFrameParts({ type: FrameType.fileOp, header: { seq: r.seq, op: r.header }, payload: r.payload }, { compressLevel: level, counter: wire, gate }).parts;
          }
        }
        const res = await this.exchange(() => this.o.peer().stream(`/v1/data/replicate?job=${encodeURIComponent(this.o.jobId)}`, frames(), ReplicateAnswer, this.abort.signal));
        if (res === null) continue;
        const acked = Math.min(res.ackedSeq, records.at(-1)!.seq);
        if (acked > stats.ackedSeq) {
          const n = records.filter((r) => r.seq <= acked);
          this.opsSent += n.length;
          this.bytesSent += n.reduce((s, r) => s + (r.payload?.length ?? 0), 0);
          await this.queue.ack(acked);
          this.journal.acknowledged(acked);
        }
        if (res.remirror) this.o.onRemirror?.(res.remirror);
        if (res.resend?.length) this.o.onResend?.(res.resend);
        this.targetBlocked = res.blocked;
        this.connected = true;
        this.lastContactAt = Date.now();
        this.lastError = null;
        this.attempt = 0;
        this.o.onChange();
        if (res.blocked) await this.wait(1000); // the target holds the rest in its own queue and keeps retrying
      } catch (err) {
        if (!this.running) return;
        const e = err as TandemError;
        this.connected = false;
        this.lastError = e.message;
        this.o.onChange();
        if (e.code === 'epoch_stale') {
          this.o.log.error({ job: this.o.jobId }, 'target refused our epoch: this source is fenced and stops sending');
          this.fencedBy = e.message;
          this.running = false;
          this.o.onChange();
          return;
        }
        await this.wait(backoffDelay(this.attempt++));
      }
    }
  }

  private async idleExchange(): Promise<void> {
    try {
      const nothing = (async function* (): AsyncGenerator<Buffer> {})();
      const res = await this.exchange(() => this.o.peer().stream(`/v1/data/replicate?job=${encodeURIComponent(this.o.jobId)}`, nothing, ReplicateAnswer, this.abort.signal));
      if (res === null) return;
      this.connected = true;
      this.lastContactAt = Date.now();
      this.lastError = null;
      this.targetBlocked = res.blocked;
      if (res.remirror) this.o.onRemirror?.(res.remirror);
      if (res.resend?.length) this.o.onResend?.(res.resend);
    } catch (err) {
      const e = err as TandemError;
      this.connected = false;
      this.lastError = e.message;
      if (e.code === 'epoch_stale') {
        this.o.log.error({ job: this.o.jobId }, 'target refused our epoch: this source is fenced and stops sending');
        this.fencedBy = e.message;
        this.running = false;
      }
    }
  }

  /** Set when the target refused this source's epoch: the job failed over; never send again at this epoch. */
  fencedBy: string | null = null;

  queueStats(): QueueStats {
    return this.queue.stats();
  }

  /** `held`: why the job sends nothing now (the operator paused it, or it is outside its transmit windows). */
  status(jobRunning: boolean, held: 'paused' | 'scheduled' | null): { replicationStatus: ReplicationStatus; transmitMode: TransmitMode; replication: Record<string, unknown> } {
    const q = this.queue.stats();
    const now = Date.now();
    const dt = (now - this.rate.at) / 1000;
    if (dt >= 1) {
      this.rate = { at: now, ops: this.opsSent, opsPerSec: Math.round((this.opsSent - this.rate.ops) / dt) };
    }
    const pending = q.lastSeq > q.ackedSeq;
    let replicationStatus: ReplicationStatus = 'ready';
    if (!jobRunning) replicationStatus = 'stopped';
    else if (this.exhaustedReason) replicationStatus = 'out_of_memory';
    else if (this.targetBlocked) replicationStatus = 'failed';
    else if (pending && (held || !this.connected)) replicationStatus = 'pending';
    else if (pending) replicationStatus = 'replicating';
    const transmitMode: TransmitMode = !jobRunning ? 'stopped' : held ?? (this.connected || !pending ? 'active' : 'error');
    return {
      replicationStatus, transmitMode,
      replication: {
        lastSeq: q.lastSeq, ackedSeq: q.ackedSeq, opsQueued: q.lastSeq - q.ackedSeq,
        memoryOps: q.memoryOps, memoryBytes: q.memoryBytes, diskOps: q.diskOps, diskBytes: q.diskBytes,
        lagMs: q.oldestUnackedAt == null ? 0 : now - q.oldestUnackedAt,
        opsPerSec: this.rate.opsPerSec, opsSent: this.opsSent, bytesSent: this.bytesSent,
        wireRawBytes: this.wire.rawBytes, wireCompressedBytes: this.wire.wireBytes,
        queueState: q.state, exhaustedReason: this.exhaustedReason, autoDisconnects: this.autoDisconnects,
        blocked: this.targetBlocked, lastError: this.lastError,
        // The limits in force (server settings; unlimited disk as null).
        limits: {
          memoryMaxBytes: this.queue.limits.memoryMaxBytes,
          diskMaxBytes: Number.isFinite(this.queue.limits.diskMaxBytes) ? this.queue.limits.diskMaxBytes : null,
          diskFreeMinBytes: this.queue.limits.diskFreeMinBytes,
        },
      },
    };
  }
}

/** The paths an op changes: its path, and for a rename the name it left. */
function opPaths(header: Record<string, unknown>): string[] {
  const paths: string[] = [];
  if (typeof header.path === 'string') paths.push(header.path);
  if (header.op === 'rename' && typeof header.from === 'string') paths.push(header.from);
  return paths;
}
