// A job on its target: checks every stream's job token and epoch, answers manifests, applies frames in order.
import type { IncomingMessage } from 'node:http';
import { TandemError } from '../../shared/errors';
import { verifyHubJwt } from '../../shared/tokens';
import { decodeFrames, detachPayload, FrameType, createByteCounter } from '../../shared/protocol/frames';
import { FileOp } from '../../shared/protocol/ops';
import { JobTokenClaims, type DesiredJob, type JobReport } from '../../shared/protocol/jobs';
import type { FilesJobSpec } from '../../shared/jobs/definition';
import type { AgentLogger } from '../log';
import type { HubKeyCache } from '../jobs/hub-keys';
import { ReplicaFs } from './replica-fs';
import { ApplySession, asOpConflict, asOutOfSpace } from './apply';
import { mirrorGroupSync } from './group-sync';
import { answerBlockHashes, answerManifest } from './manifest';
import { DirNameParts } from './dir-name-parts';
import { ReplicaVolumes } from './replica-volumes';
import { BlockHashesRequest, ManifestRequest, type ApplyAnswer, type BlockHashesAnswer, type ManifestAnswer, type ReplicateAnswer } from '../../shared/protocol/data-port';
import { ReplicationSink, type IncomingOp } from './replication-sink';
import path from 'node:path';
import { SourceMonitor } from './monitor';
import { TakeoverRunner } from './takeover';
import { SnapshotManager, type SnapshotInfo } from './snapshots';
import { blockPaths } from '../failover';
import type { StepResult } from '../../shared/protocol/jobs';

/** Per-frame limit on the data port (the frame codec refuses larger frames before buffering them). */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;

export class TargetJob {
  private replica: ReplicaFs;
  private desired: DesiredJob;
  private busy: Promise<unknown> = Promise.resolve();
  private lastApplyAt: number | null = null;
  private lastError: string | null = null;
  /** Parts of large directories' listings, held until their last part arrives (see DirNameParts). */
  private readonly dirNameParts = new DirNameParts();
  readonly wire = createByteCounter();

  readonly sink: ReplicationSink;
  /** The file system of each replica root, from the job's start: nothing is written on another (an unmounted disk). */
  private readonly volumes: ReplicaVolumes;

  constructor(desired: DesiredJob, private ctx: {
    serverId: string; keys: HubKeyCache; log: AgentLogger; dataDir: string; onChange?: () => void;
    /** The server's queue settings (diskMaxMB, diskFreeMinMB) apply to the target's queue too. */
    queueLimits?: () => Record<string, number>;
  }) {
    this.desired = desired;
    this.volumes = new ReplicaVolumes(path.join(ctx.dataDir, 'jobs', desired.jobId, 'target', 'replica-volumes.json'));
    this.replica = this.buildReplica(desired);
    this.sink = new ReplicationSink({
      dir: path.join(ctx.dataDir, 'jobs', desired.jobId, 'target'), replica: () => this.replica, log: ctx.log, jobId: desired.jobId,
      limits: ctx.queueLimits?.(),
      exclusive: (fn) => this.serial(fn),
    });
  }

  private monitor: SourceMonitor | null = null;
  private takeover!: TakeoverRunner;
  private takeoverRunning: Promise<void> | null = null;
  private snapshots: SnapshotManager | null = null;
  private snapshotList: SnapshotInfo[] = [];

  async open(): Promise<void> {
    this.takeover = this.makeTakeover();
    await this.takeover.load();
    await this.sink.open(this.desired.epoch);
    this.syncMonitor();
    await this.syncTakeover();
  }

  private makeTakeover(): TakeoverRunner {
    return new TakeoverRunner({
      jobId: this.jobId, jobName: this.desired.name, spec: this.desired.spec as unknown as FilesJobSpec,
      replicaRoots: this.replica.roots.map((r) => r.targetPath), dataDir: this.ctx.dataDir, log: this.ctx.log,
      onProgress: () => this.ctx.onChange?.(),
      drainQueue: (action) => this.finishQueue(action),
    });
  }

  /** The failover's queue step, then the new epoch's clean slate: nothing from the old stream is applied afterwards. */
  private async finishQueue(action: 'apply' | 'discard'): Promise<StepResult> {
    const started = Date.now();
    let ok = true;
    let detail: string;
    if (action === 'apply') {
      const r = await this.sink.applyAll(5 * 60_000);
      ok = r.ok;
      detail = r.detail;
    } else {
      detail = `Discarded ${await this.serial(() => this.sink.discardQueued())} queued operations.`;
    }
    if (ok) await this.serial(() => this.sink.resetForEpoch(this.desired.epoch));
    return { step: `queue.${action}`, ok, detail, durationMs: Date.now() - started };
  }

  /**
   * Snapshots of the replica (first replica root): scheduled while the job runs, kept through a failover,
   * and deleted when the job is stopped, as the manual says.
   */
  private async syncSnapshots(): Promise<void> {
    if (this.desired.jobId.includes('~')) return;
    const spec = this.desired.spec as unknown as FilesJobSpec;
    const root = this.replica.roots[0]?.targetPath;
    if (!root || !spec.snapshots) return;
    this.snapshots ??= new SnapshotManager({
      root, snapshotsDir: path.join(this.ctx.dataDir, 'jobs', this.jobId, 'snapshots'), settings: spec.snapshots,
      // Hold the applier while copying, so a snapshot never contains a half-applied batch.
      quiesce: () => new Promise((acquired) => { void this.serial(() => new Promise<void>((release) => acquired(release))); }),
      onRun: () => void this.refreshSnapshotList(),
    });
    this.snapshots.updateSettings(spec.snapshots);
    if (this.desired.state === 'stopped') {
      this.snapshots.stop();
      if (this.snapshotList.length || (await this.snapshots.list()).length) {
        const r = await this.snapshots.deleteAll();
        this.ctx.log.info({ job: this.jobId, detail: r.detail }, 'job stopped: snapshots deleted');
      }
    } else if (this.desired.run === 'running' && spec.snapshots.enabled) {
      this.snapshots.start();
    } else {
      this.snapshots.stop();
    }
    await this.refreshSnapshotList();
  }

  private async refreshSnapshotList(): Promise<void> {
    this.snapshotList = (await this.snapshots?.list().catch(() => [])) ?? [];
    this.ctx.onChange?.();
  }

  /** Operator actions from the hub's command channel. */
  async snapshotCommand(action: 'take' | 'delete', id?: string): Promise<unknown> {
    await this.syncSnapshots();
    if (!this.snapshots) throw new TandemError('snapshots_unavailable', 'This job has no replica root to snapshot on this target.', 409);
    const r = action === 'take' ? (await this.snapshots.takeNow()).taken : await this.snapshots.delete(id ?? '');
    await this.refreshSnapshotList();
    if (!r.ok) throw new TandemError(action === 'take' ? 'snapshot_failed' : 'snapshot_delete_failed', r.detail, 409);
    return { ...r, snapshots: this.snapshotList.map(({ path: _p, ...rest }) => rest) };
  }

  /** Runs the failover / failback the hub ordered (once per order id; progress survives restarts). */
  private async syncTakeover(): Promise<void> {
    const d = this.desired;
    const failover = d.controls.failover as { id: string; queueAction: 'apply' | 'discard' } | undefined;
    const failback = d.controls.failback as { id: string } | undefined;
    let order: [kind: 'failover' | 'failback', id: string, q: 'apply' | 'discard'] | null = null;
    if (d.state === 'failing_over' && failover) order = ['failover', failover.id, failover.queueAction];
    if ((d.state === 'failing_back' || d.state === 'failing_back_after_restore') && failback) order = ['failback', failback.id, 'apply'];
    if (order && !this.takeoverRunning) {
      this.takeover = this.makeTakeover();
      await this.takeover.load();
      const [kind, id, q] = order;
      this.takeoverRunning = this.takeover.run(kind, id, q).finally(() => { this.takeoverRunning = null; });
    }
    await this.syncSnapshots();
    // The replica stays read-only to users while protected (manual "block target paths").
    const spec = d.spec as unknown as FilesJobSpec;
    // Re-checked on every goal-state update: mirrored root metadata can restore the source's write bits.
    if (d.state === 'protecting' && spec.failover?.blockTargetPaths && !d.jobId.includes('~')) {
      const r = await blockPaths(this.replica.roots.map((x) => x.targetPath), { stateFile: path.join(this.ctx.dataDir, 'jobs', this.jobId, 'blocked-paths.json') });
      if (!r.ok) this.ctx.log.warn({ job: this.jobId, detail: r.detail }, 'could not block target paths');
    }
  }

  /** The failover monitor runs while the job protects (and while a failover condition is pending). */
  private syncMonitor(): void {
    const spec = this.desired.spec as unknown as FilesJobSpec;
    const want = this.desired.run === 'running' && !!spec.failoverMonitor && !this.desired.jobId.includes('~');
    if (want && !this.monitor) {
      this.monitor = new SourceMonitor(spec.failoverMonitor, this.desired.peer, () => this.ctx.onChange?.());
      this.monitor.start();
    } else if (want) {
      this.monitor!.update(spec.failoverMonitor, this.desired.peer);
    } else if (this.monitor) {
      this.monitor.stop();
      this.monitor = null;
    }
  }

  private buildReplica(d: DesiredJob): ReplicaFs {
    const spec = d.spec as unknown as FilesJobSpec;
    return new ReplicaFs(spec.rules, spec.pathMapping, d.sourceName, this.volumes);
  }

  get jobId() {
    return this.desired.jobId;
  }

  get epoch() {
    return this.desired.epoch;
  }

  async update(d: DesiredJob, targetPaused: boolean): Promise<void> {
    const specChanged = JSON.stringify(d.spec) !== JSON.stringify(this.desired.spec) || d.sourceName !== this.desired.sourceName;
    const epochChanged = d.epoch !== this.desired.epoch;
    // Stopped: the replica may be moved to another disk before the next start, which records where it is then.
    if (d.run === 'stopped' && this.desired.run !== 'stopped') await this.volumes.forget();
    this.desired = d;
    if (specChanged) this.replica = this.buildReplica(d);
    // A failover's epoch change waits for its queue step (apply or discard) before the clean slate.
    if (epochChanged && d.state !== 'failing_over') await this.serial(() => this.sink.resetForEpoch(d.epoch));
    this.sink.setPaused(targetPaused && d.state !== 'failing_over');
    this.sink.setLimits(this.ctx.queueLimits?.() ?? {});
    // Stop discards the queues (manual): what the target still held must not land after the next start's mirror.
    if (d.run === 'stopped' && this.sink.stats().queuedOps > 0) {
      const dropped = await this.serial(() => this.sink.discardQueued());
      this.ctx.log.info({ job: this.jobId, dropped }, 'job stopped: operations queued on the target discarded');
    }
    this.syncMonitor();
    await this.syncTakeover();
  }

  /**
   * Continuous replication stream: frames of {seq, op}, applied while the rest of the request arrives
   * (ReplicationSink.receiveStream); answers with the highest durable sequence number.
   */
  replicate(source: AsyncIterable<Uint8Array>): Promise<ReplicateAnswer> {
    return this.serial(async () => {
      const before = this.sink.stats().receivedSeq;
      const r = await this.sink.receiveStream(this.replicationOps(source));
      if (r.ackedSeq > before) this.lastApplyAt = Date.now(); // not for an idle source's empty exchange
      return r;
    });
  }

  private async *replicationOps(source: AsyncIterable<Uint8Array>): AsyncGenerator<IncomingOp> {
    for await (const frame of decodeFrames(source, { maxFrameBytes: MAX_FRAME_BYTES, counter: this.wire })) {
      if (frame.type !== FrameType.fileOp) throw new TandemError('frame_unexpected', `Unexpected frame type ${frame.type} on the replication stream.`);
      const h = frame.header as { seq?: unknown; op?: unknown };
      if (typeof h.seq !== 'number' || !Number.isInteger(h.seq) || h.seq < 1) throw new TandemError('frame_invalid', 'Replication frames need a positive integer seq.');
      // A payload that spans network chunks goes on as their views (one writev, no join); a small one is copied out
      // of its chunk, so that a queued 32-byte append does not pin the whole chunk.
      const payload = frame.payloadParts.length > 1 ? frame.payloadParts : detachPayload(frame.payload);
      yield { seq: h.seq, op: FileOp.parse(h.op), payload };
    }
  }

  async close(): Promise<void> {
    this.monitor?.stop();
    this.snapshots?.stop();
    await this.takeoverRunning?.catch(() => {});
    await this.sink.close();
  }

  /** Every request must carry a hub-signed job token for this job, this target and this epoch. */
  async authorize(req: IncomingMessage): Promise<JobTokenClaims> {
    const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
    if (!m) throw new TandemError('job_token_missing', 'Data-port requests need a job token.', 401);
    const claims = JobTokenClaims.parse(await verifyHubJwt(m[1]!, this.ctx.keys.get(), 'job'));
    if (claims.job !== this.jobId || claims.tgt !== this.ctx.serverId) {
      throw new TandemError('job_token_scope', 'This job token is for another job or target.', 403);
    }
    if (claims.epoch < this.epoch) {
      throw new TandemError('epoch_stale', `Stream refused: epoch ${claims.epoch} is older than the job's epoch ${this.epoch} (the job has failed over or been restored). The source must not replicate over this target.`, 409);
    }
    if (claims.epoch > this.epoch) {
      throw new TandemError('epoch_ahead', `Epoch ${claims.epoch} is newer than this target knows (${this.epoch}); retry after the target's next poll.`, 409);
    }
    if (this.desired.run !== 'running') throw new TandemError('job_not_running', 'The job is not running on this target.', 409);
    return claims;
  }

  /** One request at a time per job, so operations land in the order the source sent them. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.busy.then(fn, fn);
    this.busy = next.catch(() => {});
    return next;
  }

  /** Target pause holds mirror data too (it changes the replica like any operation): the source asks again later. */
  private refuseWhilePaused(): void {
    if (this.sink.isPaused()) {
      throw new TandemError('target_paused', 'The target is paused (target-pause): mirror data waits until the target is resumed (target-resume).', 503);
    }
  }

  manifest(body: unknown): Promise<ManifestAnswer> {
    this.refuseWhilePaused();
    const req = ManifestRequest.parse(body);
    // Orphans are moved where this job's settings (from the hub) say, never to a folder the source names: a source
    // could otherwise have replica files, with content it chose, renamed to any place on this host.
    const moveTo = (this.desired.spec as unknown as FilesJobSpec).orphans?.moveTo;
    if (req.orphans.moveTo !== undefined && req.orphans.moveTo !== moveTo) {
      this.ctx.log.warn({ job: this.jobId, asked: req.orphans.moveTo.slice(0, 300), configured: moveTo ?? null },
        'the source asked to move orphans to another folder than the job setting: the setting is used');
    }
    const orphans = { action: req.orphans.action, ...(moveTo !== undefined ? { moveTo } : {}) };
    // Not serialised with the applier: the source asks for the next batch's manifest while this one streams.
    return answerManifest(this.replica, { ...req, orphans }, (fn) => this.serial(fn), this.dirNameParts);
  }

  /** The digests of one replica file, deferred from a manifest answer: read-only, beside the applier like it. */
  blockHashes(body: unknown): Promise<BlockHashesAnswer> {
    this.refuseWhilePaused();
    return answerBlockHashes(this.replica, BlockHashesRequest.parse(body));
  }

  apply(source: AsyncIterable<Uint8Array>): Promise<ApplyAnswer> {
    this.refuseWhilePaused();
    return this.serial(async () => {
      this.refuseWhilePaused();
      const session = new ApplySession(this.replica, mirrorGroupSync());
      const result: ApplyAnswer = { applied: 0, refused: [], bytes: 0 };
      let failed: { err: unknown } | null = null as { err: unknown } | null;
      try {
        for await (const frame of decodeFrames(source, { maxFrameBytes: MAX_FRAME_BYTES, counter: this.wire })) {
          if (frame.type !== FrameType.fileOp) throw new TandemError('frame_unexpected', `Unexpected frame type ${frame.type} on the apply stream.`);
          const op = FileOp.parse(frame.header);
          if (failed) throw failed.err;
          // Operations on unrelated paths run concurrently; the session keeps each path's operations in order.
          const bytes = frame.payloadBytes;
          // The payload's network pieces go to the file as they are (one writev), not joined into a new buffer.
          await session.submit(op, frame.payloadParts, (err) => {
            if (err === undefined) {
              result.applied++;
              result.bytes += bytes;
              return;
            }
            const e = err as TandemError;
            if (!(err instanceof TandemError) || !e.code.startsWith('path_')) {
              failed ??= { err: asOpConflict(op, asOutOfSpace(err, this.replicaRoots())) };
              return;
            }
            // Refused paths are logged and counted, never performed; the rest of the batch goes on.
            result.refused.push({ path: op.path.slice(0, 500), code: e.code, message: e.message });
            this.ctx.log.warn({ job: this.jobId, code: e.code, path: op.path.slice(0, 500) }, 'refused operation');
          });
        }
        await session.commit();
        if (failed) throw failed.err;
        this.lastApplyAt = Date.now();
        this.lastError = null;
        return result;
      } catch (caught) {
        await session.abort();
        const err = asOutOfSpace(caught, this.replicaRoots()); // the group sync or a rename at commit may find the disk full too
        this.lastError = (err as Error).message;
        throw err;
      }
    });
  }

  private replicaRoots(): string[] {
    return this.replica.roots.map((r) => r.targetPath);
  }

  report(): JobReport {
    return {
      jobId: this.jobId, role: 'target', epoch: this.epoch, at: Date.now(),
      probes: this.monitor?.recent(),
      action: this.takeover?.progress ?? null,
      snapshots: this.snapshotList.map(({ path: _p, ...rest }) => rest),
      refusedPaths: this.replica.refused, lastError: this.lastError ?? this.sink.blocked?.message ?? null,
      replication: { wireRawBytes: this.wire.rawBytes, wireCompressedBytes: this.wire.wireBytes, ...this.sink.stats(), lastApplyAt: this.lastApplyAt },
      warnings: this.sink.blocked ? [{ code: 'replication_blocked', message: `Replication is blocked on "${this.sink.blocked.path}": ${this.sink.blocked.message}. Nothing after it is applied until it succeeds; fix the cause (permissions, space, a lock) on the target.` }] : [],
    };
  }
}
