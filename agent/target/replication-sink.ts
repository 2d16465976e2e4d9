// The target's half of continuous replication: acknowledges a sequence number only once the operation is durable
// (applied and fsynced, or held in the target's own disk queue), applies strictly in order, ignores duplicates,
// and when an operation cannot be applied keeps retrying it and applies nothing after it.
import path from 'node:path';
import { z } from 'zod';
import { FileOp } from '../../shared/protocol/ops';
import { TandemError } from '../../shared/errors';
import { ReplicationQueue, resolveQueueLimits, type QueueLimits } from '../source/queue';
import { readJson, writeFileAtomic } from '../state-store';
import { SlotFile } from '../slot-file';
import { mkdirSync } from 'node:fs';
import type { AgentLogger } from '../log';
import type { ReplicaFs } from './replica-fs';
import { ApplySession } from './apply';
import { joinPayload, payloadLength, type Payload } from '../../shared/protocol/frames';
import { RESEND_MAX_PATHS, type ReplicateAnswer, type ReplicationBlock } from '../../shared/protocol/data-port';

const SinkState = z.object({
  receivedSeq: z.number(), appliedSeq: z.number(), epoch: z.number(),
  /**
   * Set (durably) before applying a batch that renames or hard-links, cleared with the state saved after it.
   * Replaying such a batch is not safe (rename a→b, then a new a: a replay would move the new a onto b), so
   * finding it set at start-up means the replica may be inexact: the source is asked for a difference mirror.
   */
  applyingThrough: z.number().optional(),
  /** A difference mirror asked for and not yet handed to the source (see remirrorReason). */
  remirror: z.string().optional(),
});

export interface IncomingOp {
  seq: number;
  op: FileOp;
  /** One buffer, or (a large payload) the views of the network chunks it arrived in, written without a join. */
  payload: Payload;
}

/**
 * Paths asked for again are kept (durably, in their own file) up to this many; past it the target asks for a
 * difference mirror instead, which brings every one of them.
 */
export const MISSING_MAX_PATHS = 10_000;

/** A stream's operations are applied in pieces of about this many payload bytes while the rest arrives. */
export const APPLY_PIECE_BYTES = 4 * 1024 * 1024;

export class ReplicationSink {
  private state: z.infer<typeof SinkState> = { receivedSeq: 0, appliedSeq: 0, epoch: 0 };
  /** Why the replica needs a difference mirror (reported to the source on its next replicate request). */
  remirrorReason: string | null = null;
  private queue!: ReplicationQueue;
  private paused = false;
  private draining: Promise<void> | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  blocked: ReplicationBlock | null = null;
  refused = 0;
  /**
   * Destinations of operations that found nothing to act on here (see ReplicateAnswer.resend). Saved with the
   * state whenever it changed, so a restart of the target does not forget to ask for them; a path handed to the
   * source leaves the saved copy only at the next save (asked again after a crash, never lost).
   */
  private readonly missing = new Set<string>();
  private missingChanged = false;
  lastApplyAt: number | null = null;

  constructor(private o: {
    dir: string; replica: () => ReplicaFs; log: AgentLogger; jobId: string; limits?: Partial<QueueLimits>;
    /** Runs apply work exclusively with the job's other writers (the mirror). */
    exclusive: <T>(fn: () => Promise<T>) => Promise<T>;
  }) {}

  /** Sequence numbers received/applied and the epoch, saved after every batch (one in-place flush). */
  private stateFile: SlotFile | null = null;
  private get missingFile(): string {
    return path.join(this.o.dir, 'missing.json');
  }

  async open(epoch: number): Promise<void> {
    mkdirSync(this.o.dir, { recursive: true, mode: 0o700 });
    this.stateFile = SlotFile.open(path.join(this.o.dir, 'sink.state'));
    const saved = this.stateFile.initial ? SinkState.safeParse(JSON.parse(this.stateFile.initial)) : null;
    // Agents before the slot file kept this in sink.json.
    this.state = saved?.success ? saved.data : (await readJson(path.join(this.o.dir, 'sink.json'), SinkState)) ?? this.state;
    if (this.state.applyingThrough !== undefined && this.state.applyingThrough > this.state.appliedSeq) {
      this.remirrorReason = `the target stopped while applying operations ${this.state.appliedSeq + 1}..${this.state.applyingThrough}, which include renames that cannot be safely applied twice`;
      this.o.log.warn({ job: this.o.jobId, reason: this.remirrorReason }, 'replica may be inexact: asking the source for a difference mirror');
      this.state.remirror = this.remirrorReason;
      // The operations are applied again (harmless: the difference mirror makes the replica exact afterwards).
    }
    delete this.state.applyingThrough;
    if (this.state.remirror) this.remirrorReason ??= this.state.remirror;
    for (const p of (await readJson(this.missingFile, z.array(z.string()))) ?? []) this.missing.add(p);
    // Everything lands on disk before it is acknowledged, so the target queue needs no memory tier.
    this.queue = await ReplicationQueue.open(path.join(this.o.dir, 'queue'), targetQueueLimits(this.o.limits));
    if (this.queue.problem?.state === 'broken') {
      // Every parked op was on disk before it was acknowledged, so after a crash the queue normally still holds all
      // of them: they are applied as usual. Only when some are missing is a difference mirror the way back.
      if ((await this.queue.recoverAfterCrash()) && (await this.queueHoldsUnapplied())) {
        const held = this.queue.stats().diskOps;
        if (held > 0) this.o.log.info({ job: this.o.jobId, ops: held }, 'the target stopped with operations queued: applying them');
      } else {
        this.remirrorReason = `the target's queue lost operations it had acknowledged (${this.queue.problem?.reason ?? 'damaged'})`;
        this.state.remirror = this.remirrorReason;
        this.o.log.warn({ job: this.o.jobId, reason: this.remirrorReason }, 'asking the source for a difference mirror');
        await this.queue.discardAll();
      }
    }
    if (epoch !== this.state.epoch) await this.resetForEpoch(epoch);
    this.kick();
  }

  /** The queue holds every operation acknowledged and not yet applied (appliedSeq+1 .. receivedSeq; parked in order). */
  private async queueHoldsUnapplied(): Promise<boolean> {
    if (this.state.receivedSeq <= this.state.appliedSeq) return true;
    const q = this.queue.stats();
    if (q.lastSeq <= q.ackedSeq) return false;
    try {
      const [first] = await this.queue.peekFrom(q.ackedSeq + 1, 1);
      const [last] = await this.queue.peekFrom(q.lastSeq, 1);
      return Number(first?.header.seq) <= this.state.appliedSeq + 1 && Number(last?.header.seq) >= this.state.receivedSeq;
    } catch {
      return false; // unreadable records: the same as missing ones
    }
  }

  /** A new epoch (failover, restore) starts a new sequence: the old stream's ops must never be applied. */
  async resetForEpoch(epoch: number): Promise<void> {
    await this.queue.discardAll();
    this.state = { receivedSeq: 0, appliedSeq: 0, epoch };
    this.blocked = null;
    this.remirrorReason = null;
    this.missing.clear();
    this.missingChanged = true;
    await this.save();
  }

  private async save(): Promise<void> {
    if (this.missingChanged) {
      this.missingChanged = false;
      await writeFileAtomic(this.missingFile, JSON.stringify([...this.missing]));
    }
    await this.stateFile!.save(JSON.stringify(this.state));
  }

  /** Remembers a path to ask the source for; too many of them and a difference mirror is asked for instead. */
  private noteMissing(sourcePath: string): void {
    if (this.missing.has(sourcePath)) return;
    this.missingChanged = true;
    if (this.missing.size < MISSING_MAX_PATHS) {
      this.missing.add(sourcePath);
      return;
    }
    this.missing.clear();
    this.remirrorReason = `more than ${MISSING_MAX_PATHS} replicated operations found their path missing on the target`;
    this.state.remirror = this.remirrorReason;
    this.o.log.warn({ job: this.o.jobId, reason: this.remirrorReason }, 'asking the source for a difference mirror');
  }

  /** The server's queue settings changed: the target's queue uses them from now on. */
  setLimits(limits: Partial<QueueLimits>): void {
    const next = targetQueueLimits(limits);
    if (!this.queue || JSON.stringify(next) === JSON.stringify(this.queue.limits)) return;
    this.queue.setLimits(next);
    this.o.log.info({ job: this.o.jobId, limits: next }, 'target queue limits changed');
  }

  setPaused(paused: boolean): void {
    if (this.paused === paused) return;
    this.paused = paused;
    if (!paused) this.kick();
  }

  isPaused(): boolean {
    return this.paused;
  }

  /**
   * Receives a request's operations as they are decoded, in pieces of about `pieceBytes`: while one piece is
   * applied and synced, the next one is decrypted and decoded (one piece ahead at most, so memory stays bounded).
   * Each piece is a complete receive(), durable before the next starts; the answer is the last one's. If the
   * stream or a piece fails, the pieces before it stay received and the source resends from what it was told.
   */
  async receiveStream(ops: AsyncIterable<IncomingOp>, pieceBytes = APPLY_PIECE_BYTES): Promise<ReplicateAnswer> {
    let piece: IncomingOp[] = [];
    let bytes = 0;
    let applying = null as Promise<ReplicateAnswer> | null; // assigned in handOn
    let last: ReplicateAnswer | null = null;
    // Each piece's answer hands out what the target asks for (paths to send again, a difference mirror) once; only
    // the last answer goes back, so what the earlier ones handed out is carried into it, never dropped.
    const asked = { resend: new Set<string>(), remirror: null as string | null };
    const keep = (a: ReplicateAnswer) => {
      for (const p of a.resend ?? []) asked.resend.add(p);
      asked.remirror ??= a.remirror ?? null;
    };
    const handOn = async () => {
      if (applying) keep((last = await applying));
      applying = this.receive(piece);
      applying.catch(() => {}); // awaited by the next handOn or below; not "unhandled" meanwhile
      piece = [];
      bytes = 0;
    };
    try {
      for await (const op of ops) {
        piece.push(op);
        bytes += payloadLength(op.payload);
        if (bytes >= pieceBytes) await handOn();
      }
      if (piece.length || !applying) await handOn();
      keep((last = await applying!));
    } catch (err) {
      this.askAgain([...asked.resend], asked.remirror); // handed out by applied pieces, but never told to the source
      throw err;
    } finally {
      await applying?.catch(() => {}); // never return while a piece is still being applied
    }
    const resend = [...asked.resend];
    this.askAgain(resend.slice(RESEND_MAX_PATHS), null); // more than one answer carries: the next ones
    return {
      ...last,
      ...(resend.length ? { resend: resend.slice(0, RESEND_MAX_PATHS) } : {}),
      ...(asked.remirror ? { remirror: asked.remirror } : {}),
    };
  }

  /** Requests taken for an answer that will not reach the source go back, to be handed out with the next one. */
  private askAgain(paths: string[], remirror: string | null): void {
    for (const p of paths) this.noteMissing(p);
    if (remirror && !this.remirrorReason) {
      this.remirrorReason = remirror;
      this.state.remirror = remirror;
    }
  }

  /** Receives one batch; returns the highest sequence number now durable on this target. */
  async receive(ops: IncomingOp[]): Promise<ReplicateAnswer> {
    const fresh = ops.filter((o) => o.seq > this.state.receivedSeq).sort((a, b) => a.seq - b.seq);
    if (!fresh.length) return this.answer();
    const q = this.queue.stats();
    const queueEmpty = q.lastSeq <= q.ackedSeq;
    if (!this.paused && queueEmpty && !this.blocked && !this.draining) {
      // Fast path: apply straight away; whatever cannot be applied goes to the queue, in order.
      const applied = await this.applyInOrder(fresh);
      const rest = fresh.slice(applied);
      if (rest.length) {
        await this.park(rest);
        this.kick(); // keeps retrying what blocks, even if nothing more arrives
      }
    } else {
      await this.park(fresh);
      this.kick();
    }
    this.state.receivedSeq = fresh.at(-1)!.seq;
    await this.save();
    return this.answer();
  }

  /** What the source is told: how far it is acknowledged, what blocks, and any one-time requests. */
  private answer(): ReplicateAnswer {
    return { ackedSeq: this.state.receivedSeq, blocked: this.blocked, ...this.takeRemirror(), ...this.takeResend() };
  }

  /** Hands the paths found missing to the source once (it sends them again, then they are present). */
  private takeResend(): { resend?: string[] } {
    if (this.missing.size === 0) return {};
    const paths = [...this.missing].slice(0, RESEND_MAX_PATHS);
    for (const p of paths) this.missing.delete(p);
    this.missingChanged = true;
    return { resend: paths };
  }

  /** The remirror request goes to the source once, with the first answer after start-up. */
  private takeRemirror(): { remirror?: string } {
    const reason = this.remirrorReason;
    this.remirrorReason = null;
    delete this.state.remirror; // saved with the next batch: asked again after a crash before it, never lost
    return reason ? { remirror: reason } : {};
  }

  private async park(ops: IncomingOp[]): Promise<void> {
    // A queue that was full may have room again (applied ops freed it, space was made): what it refused was not
    // acknowledged and comes again, so it is simply tried again.
    if (this.queue.problem?.state === 'exhausted') await this.queue.retryAfterExhaustion();
    for (const o of ops) {
      const r = await this.queue.enqueue({ kind: 'op', header: { seq: o.seq, op: o.op }, payload: joinPayload(o.payload) });
      if (!r.ok) {
        throw new TandemError('target_queue_full', `The target's queue for this job is full (${r.problem.reason}); the source keeps the operations queued.`, 503);
      }
    }
    await this.queue.flush();
  }

  /** Applies ops in order until one fails for a reason other than path safety; returns how many were consumed. */
  private async applyInOrder(ops: IncomingOp[]): Promise<number> {
    const session = new ApplySession(this.o.replica());
    let done = 0;
    const pending = ops.filter((o) => o.seq > this.state.appliedSeq);
    if (pending.some((o) => o.op.op === 'rename' || o.op.op === 'hardlink')) {
      this.state.applyingThrough = pending.at(-1)!.seq;
      await this.save();
    }
    try {
      for (const o of ops) {
        if (o.seq <= this.state.appliedSeq) { done++; continue; }
        try {
          await session.apply(o.op, o.payload);
        } catch (err) {
          const e = err as TandemError & NodeJS.ErrnoException;
          if (err instanceof TandemError && e.code.startsWith('path_')) {
            this.refused++;
            this.o.log.warn({ job: this.o.jobId, code: e.code, path: o.op.path.slice(0, 500) }, 'refused operation');
          } else if (asksAgain(e.code, o.op)) {
            // Not blocking (retrying would fail for good, and everything after it would wait), but the source is asked to
            // send the path again. A running mirror may bring it, but not when it was renamed to a place the mirror had
            // already passed (it would never arrive).
            this.o.log.debug({ job: this.o.jobId, seq: o.seq, op: o.op.op, path: o.op.path }, 'operation on a missing path (or not a regular file) skipped; asking the source to send it again');
            this.noteMissing(o.op.path);
            // The file to link to is not what the source has there: it is asked for again too (its content may be a
            // part sent in place of data that never arrived, which a later write through the link cannot mend).
            if (e.code === 'link_source_changed' && o.op.op === 'hardlink') this.noteMissing(o.op.existing);
          } else {
            const message = `${o.op.op} on "${o.op.path}" failed: ${e.message}`;
            if (!this.blocked || this.blocked.seq !== o.seq) {
              this.o.log.error({ job: this.o.jobId, seq: o.seq, code: e.code, path: o.op.path }, 'replication blocked: retrying this operation; nothing after it is applied');
            }
            this.blocked = { seq: o.seq, path: o.op.path, code: String(e.code ?? 'apply_failed'), message, since: this.blocked?.seq === o.seq ? this.blocked.since : Date.now() };
            break;
          }
        }
        this.state.appliedSeq = o.seq;
        done++;
      }
      await session.commit();
    } catch (err) {
      await session.abort();
      throw err;
    }
    if (done === ops.length && this.blocked && ops.some((o) => o.seq === this.blocked!.seq)) this.blocked = null;
    if (done > 0) this.lastApplyAt = Date.now();
    delete this.state.applyingThrough; // persisted by the save that follows (a crash before it only asks for a mirror)
    return done;
  }

  private kick(): void {
    if (this.draining || this.paused) return;
    this.draining = this.drain().finally(() => { this.draining = null; });
  }

  /** Applies what waits in the target queue; on a blocking failure, retries every second. */
  private async drain(): Promise<void> {
    for (;;) {
      if (this.paused) return;
      const q = this.queue.stats();
      if (q.lastSeq <= q.ackedSeq) {
        this.blocked = null;
        return;
      }
      const records = await this.queue.peekFrom(q.ackedSeq + 1, 8 * 1024 * 1024);
      const ops: IncomingOp[] = records.map((r) => ({ seq: Number(r.header.seq), op: FileOp.parse(r.header.op), payload: r.payload ?? Buffer.alloc(0) }));
      const applied = await this.o.exclusive(() => this.applyInOrder(ops));
      if (applied > 0) {
        await this.queue.ack(records[applied - 1]!.seq);
        await this.save();
      }
      if (applied < ops.length) {
        if (this.retryTimer) clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => { this.retryTimer = null; this.kick(); }, 1000);
        return;
      }
      this.blocked = null;
    }
  }

  /** Failover with queueAction "apply": everything received is applied before the target takes over. */
  async applyAll(timeoutMs: number): Promise<{ ok: boolean; detail: string }> {
    this.setPaused(false);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const q = this.queue.stats();
      const left = q.lastSeq - q.ackedSeq;
      if (left <= 0) return { ok: true, detail: `All ${this.state.receivedSeq} received operations are applied.` };
      if (this.blocked && Date.now() > deadline) {
        return { ok: false, detail: `${left} queued operations could not be applied: ${this.blocked.message}. Fix it and retry the failover, or fail over with queueAction "discard".` };
      }
      if (Date.now() > deadline) return { ok: false, detail: `${left} queued operations were still being applied after ${Math.round(timeoutMs / 1000)} s; retry the failover.` };
      this.kick();
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Failover with queueAction "discard": what is still queued is dropped (faster, loses those changes). */
  async discardQueued(): Promise<number> {
    const q = this.queue.stats();
    const dropped = Math.max(0, q.lastSeq - q.ackedSeq);
    await this.queue.discardAll();
    this.blocked = null;
    return dropped;
  }

  stats() {
    const q = this.queue?.stats();
    return {
      receivedSeq: this.state.receivedSeq, appliedSeq: this.state.appliedSeq, paused: this.paused,
      queuedOps: q ? q.lastSeq - q.ackedSeq : 0, queueDiskBytes: q?.diskBytes ?? 0, blocked: this.blocked, lastApplyAt: this.lastApplyAt,
    };
  }

  async close(): Promise<void> {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.draining?.catch(() => {});
    await this.queue?.close().catch(() => {});
    this.stateFile?.close();
    this.stateFile = null;
  }
}

/**
 * Failures that mean the target lacks what the operation needs, so the source is asked for the path again: nothing
 * there to act on (ENOENT), not a regular file there, a link to a file that is not what the source has, or a later
 * chunk of a whole file whose bytes before it are gone (the final chunk sent again after a crash between its rename
 * and the saved state, or a mirror batch between two requests that wrote the file through the same temp name).
 */
const ASK_AGAIN_CODES = new Set(['not_a_file', 'link_source_changed', 'file_chunk_gap']);
const ENOENT_ASKS_AGAIN = new Set<FileOp['op']>(['meta', 'rename', 'hardlink', 'write', 'truncate']);

function asksAgain(code: string | undefined, op: FileOp): boolean {
  return ASK_AGAIN_CODES.has(code ?? '') || (code === 'ENOENT' && ENOENT_ASKS_AGAIN.has(op.op));
}

/** Everything lands on disk before it is acknowledged, so the target queue needs no memory tier. */
function targetQueueLimits(limits: Partial<QueueLimits> = {}): QueueLimits {
  return resolveQueueLimits({ ...limits, memoryMaxBytes: 0 });
}
