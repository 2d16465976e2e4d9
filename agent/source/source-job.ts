// A job on its source: acts on the hub's mirror and verify requests once each, runs them against the target,
// keeps the cursor on disk so a killed agent or a dropped link resumes where it was, and reports status.
import path from 'node:path';
import { z } from 'zod';
import { HelloAnswer, TARGET_FEATURES } from '../../shared/protocol/data-port';
import { rootLinkMessage, rootsThatAreLinks } from './root-links';
import { protectedRoots } from '../../shared/rules';
import type { DesiredJob, JobReport, MirrorStats, VerifyReport } from '../../shared/protocol/jobs';
import type { FilesJobSpec } from '../../shared/jobs/definition';
import type { MirrorStatus, TargetDataState } from '../../shared/states';
import { TandemError } from '../../shared/errors';
import { backoffDelay } from '../../shared/backoff';
import { randomId } from '../../shared/tokens';
import { normalizeAbsolutePath } from '../../shared/paths';
import { PeerClient } from '../peer/client';
import type { AgentLogger } from '../log';
import { readJson, writeFileAtomic } from '../state-store';
import { MirrorRun, emptyMirrorStats } from './mirror';
import { measureProtectedSet } from './walker';
import { Replicator } from './replicator';
import { ServiceMonitor } from './service-monitor';
import { stopServices, startServices, runPhaseScript } from '../failover';
import type { StepResult } from '../../shared/protocol/jobs';
import { ChangeCapture, type CaptureWarning } from './capture';
import { shouldFenceSource } from '../../shared/jobs/fencing';
import { nextScheduledVerify } from '../../shared/jobs/verify-schedule';
import { bandwidthLimitAt, localTimeOf, nextChangeAt, transmitWindowOpen } from '../../shared/schedule';

const MirrorState = z.object({
  mirrorId: z.string(),
  mode: z.enum(['all', 'different']),
  blockChecksum: z.boolean(),
  newerOnly: z.boolean(),
  status: z.enum(['running', 'paused', 'stopped', 'complete']),
  cursor: z.string().nullable(),
  /** Files whose content the mirror compares even when size and time match (see `autoMirror`). */
  checkContent: z.array(z.string()).optional(),
  stats: z.any(),
});
const VerifyState = z.object({
  verifyId: z.string(),
  order: z.object({ mirrorDifferences: z.boolean(), newerOnly: z.boolean(), blockChecksum: z.boolean() }),
  status: z.enum(['running', 'complete']),
  cursor: z.string().nullable(),
  report: z.any(),
});
const SourceState = z.object({
  /** Failover / failback orders this source already acted on (its own services and scripts). */
  handledOrders: z.array(z.string()).default([]),
  lastMirrorRequestId: z.string().nullable(),
  lastVerifyRequestId: z.string().nullable(),
  mirror: MirrorState.nullable(),
  verify: VerifyState.nullable(),
  /** The job's verify schedule as last seen, and since when its next occurrence is counted (last run, or first seen). */
  verifySchedule: z.object({ key: z.string(), since: z.number() }).nullable().default(null),
});
type SourceState = z.infer<typeof SourceState>;

const FAILED_OVER_STATES = new Set(['failing_over', 'failed_over', 'restoring', 'restored', 'failing_back', 'failing_back_after_restore', 'restore_required', 'restoring_after_failback']);

/** The target does not know the job, its epoch or its running state yet: it catches up on its next poll. */
const PEER_CATCHING_UP = new Set(['job_unknown', 'epoch_ahead', 'job_not_running']);
const RETRYABLE = new Set(['peer_unreachable', 'job_unknown', 'epoch_ahead', 'job_not_running', 'peer_error', 'internal', 'file_chunk_gap', 'target_paused']);
/**
 * Failures that are the normal course of things (the target down or catching up, paused, a continued file it lost),
 * or that the job reports in their own right (fenced, a peer with another certificate): the mirror waits for them
 * without a warning of its own. Anything else (the target out of space, an error on either side) is reported as the
 * mirror being blocked until a batch goes through.
 */
const WAITING_NOT_BLOCKED = new Set(['peer_unreachable', 'job_unknown', 'epoch_ahead', 'job_not_running', 'file_chunk_gap', 'target_paused', 'epoch_stale', 'peer_cert_mismatch']);
/** While the target is paused the mirror asks again at this pace (no growing back-off: resuming should be felt soon). */
const TARGET_PAUSED_RETRY_MS = 2000;
/** After an auto-disconnect: a moment for the disk, then a look at the free space every few seconds until there is room. */
const AUTO_RECONNECT_DELAY_MS = 1000;
const ROOM_RECHECK_MS = 2000;
/** Lost paths an automatic mirror checks by content one by one; beyond this it compares every file by blocks. */
const CHECK_CONTENT_MAX = 100_000;

/** What the change capture and the sender are built from: a change restarts them. */
const captureSettings = (d: DesiredJob): string => {
  const s = d.spec as unknown as FilesJobSpec;
  return JSON.stringify([s.rules, s.pathMapping, s.replication, s.compression]);
};

export class SourceJob {
  private desired: DesiredJob;
  private lastWorkErrorCode: string | null = null;
  private catchingUpSince: number | null = null;
  private state: SourceState = { handledOrders: [], lastMirrorRequestId: null, lastVerifyRequestId: null, mirror: null, verify: null, verifySchedule: null };
  private sourceSteps: StepResult[] = [];
  private peer: PeerClient;
  private abort = new AbortController();
  private running: Promise<void> | null = null;
  private calculating = false;
  private connection: { id: string | null; since: number | null; error: string | null } = { id: null, since: null, error: null };
  private fenced: string | null = null;
  private attempt = 0;

  private replicator: Replicator | null = null;
  private capture: ChangeCapture | null = null;
  private captureWarnings = new Map<string, CaptureWarning>();
  /** The mirror or verify failed for a reason the operator should see; cleared by the next batch that goes through. */
  private workBlocked: { what: 'mirror' | 'verify'; message: string } | null = null;
  /** What the target said it can do in its last hello (see TARGET_FEATURES). */
  private targetFeatures = new Set<string>();
  /** The protected roots of the rules in force, worked out once per set of rules (every report looks at them). */
  private roots: { rules: unknown; roots: string[] } = { rules: null, roots: [] };
  private replicating = false;
  private autoMirrorId: string | null = null;
  private isolation: string | null = null;
  private fenceTimer: NodeJS.Timeout | null = null;
  /** After an auto-disconnect, until the queue has room again: nothing is sent (the owed mirror waits). */
  private reconnectPending = false;
  /** Why the job does not reconnect yet (no room in the queue's file system), for the operator; else null. */
  private waitingForRoom: string | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private readonly startedAt = Date.now();
  private services: ServiceMonitor | null = null;
  /** Outside every transmit window of the job: nothing is sent until one opens (transmit mode "scheduled"). */
  private outsideWindow = false;
  private windowChange: { key: string; at: number | null } | null = null;

  constructor(desired: DesiredJob, private ctx: {
    dataDir: string; log: AgentLogger; onChange: (urgent?: boolean) => void;
    /** Last time the poll loop reached the hub (ms), for self-fencing. */
    hubContactAt: () => number | null;
    /** Queue limits from the server settings. */
    queueLimits: () => Record<string, number>;
  }) {
    this.desired = desired;
    this.peer = this.makePeer(desired);
  }

  private makePeer(d: DesiredJob) {
    return new PeerClient(d.peer, () => this.desired.jobToken);
  }

  get jobId() {
    return this.desired.jobId;
  }

  private get stateFile() {
    return path.join(this.ctx.dataDir, 'jobs', this.jobId, 'source.json');
  }

  private get spec(): FilesJobSpec {
    return this.desired.spec as unknown as FilesJobSpec;
  }

  async init(): Promise<void> {
    this.state = (await readJson(this.stateFile, SourceState)) ?? this.state;
  }

  private async save(): Promise<void> {
    await writeFileAtomic(this.stateFile, JSON.stringify(this.state));
  }

  /** Applies a new goal state from the hub (or from disk after a restart without the hub). */
  async update(d: DesiredJob): Promise<void> {
    const peerChanged = JSON.stringify(d.peer) !== JSON.stringify(this.desired.peer);
    const epochChanged = d.epoch !== this.desired.epoch;
    const captureChanged = captureSettings(d) !== captureSettings(this.desired);
    this.desired = d;
    this.replicator?.setLimits(this.ctx.queueLimits());
    if (captureChanged && this.replicating) {
      // Edited rules or replication settings: the capture starts again with them (the queue is kept). A changed set
      // comes with the hub's difference-mirror request, handled below, which also makes the capture's new baseline.
      this.ctx.log.info({ job: this.jobId }, 'job settings changed: restarting the change capture with them');
      await this.halt();
      await this.stopReplication(false);
    }
    if (peerChanged) {
      this.peer.limit.set(this.jobId, null);
      void this.peer.close();
      this.peer = this.makePeer(d);
    }
    if (epochChanged) {
      // A new epoch is a new stream: nothing queued under the old one may be sent, and old fences no longer apply.
      this.fenced = null;
      await this.halt();
      await this.stopReplication(true);
    }
    // (A restore's reverse job runs in those states too: it is the one that must send.)
    if (FAILED_OVER_STATES.has(d.state) && !d.jobId.includes('~')) {
      // The job failed over: this source must not replicate over the target (the epoch fences it too).
      this.fenced = `the job has failed over to ${d.peer.name} (epoch ${d.epoch}); this source does not replicate until the job is restored and failed back`;
    } else if (this.fenced?.startsWith('the job has failed over')) {
      this.fenced = null;
    }
    if (!d.jobId.includes('~')) await this.sourceSideActions(d);
    if (d.run === 'stopped') {
      // Stop discards what was in flight and the queues; the next start remirrors.
      if (this.state.mirror && this.state.mirror.status !== 'complete') this.state.mirror.status = 'stopped';
      this.state.verify = null;
      await this.halt();
      await this.stopReplication(true);
      await this.save();
      return;
    }
    let changed = false;
    const m = d.mirror;
    if (m && m.id !== this.state.lastMirrorRequestId) {
      changed = true;
      this.state.lastMirrorRequestId = m.id;
      const current = this.state.mirror;
      if (m.action === 'start' && m.id === this.autoMirrorId && this.state.mirror?.mirrorId === m.id && this.state.mirror.status !== 'stopped') {
        // The hub adopted the mirror this source started by itself: nothing to do.
      } else if (m.action === 'start') {
        await this.halt();
        this.autoMirrorId = null;
        this.state.mirror = {
          mirrorId: m.mirrorId ?? m.id, mode: m.mode ?? this.spec.mirror.mode,
          blockChecksum: m.blockChecksum ?? this.spec.mirror.blockChecksum, newerOnly: this.spec.mirror.newerOnly,
          status: 'running', cursor: null, stats: emptyMirrorStats(m.mirrorId ?? m.id),
        };
      } else if (current && m.action === 'pause' && current.status === 'running') {
        current.status = 'paused';
        await this.halt();
      } else if (current && m.action === 'resume' && current.status === 'paused') {
        current.status = 'running';
      } else if (current && m.action === 'stop' && current.status !== 'complete') {
        current.status = 'stopped';
        current.cursor = null;
        await this.halt();
      }
    }
    const v = d.verify;
    if (v && v.id !== this.state.lastVerifyRequestId) {
      changed = true;
      this.state.lastVerifyRequestId = v.id;
      this.state.verify = {
        verifyId: v.id, order: { mirrorDifferences: v.mirrorDifferences, newerOnly: v.newerOnly, blockChecksum: v.blockChecksum },
        status: 'running', cursor: null, report: this.newReport(v.id),
      };
    }
    if (changed) await this.save();
    // After the requests: a mirror starting from nothing lets the capture take today's tree as its baseline.
    await this.startReplication();
    this.checkTransmission();
    this.replicator?.setPaused(this.transmissionHeld() !== null);
    if (d.controls.paused) {
      await this.halt();
      return;
    }
    this.kick();
  }

  /**
   * The source's own part of a failover and failback (manual 2.13, 2.8): at failover it stops the failover services
   * (if it is up to hear of it); after failback it starts them again and runs a post-failback script set to run here.
   */
  private async sourceSideActions(d: DesiredJob): Promise<void> {
    const f = this.spec.failover;
    const failover = d.controls.failover as { id: string } | undefined;
    const failback = d.controls.failback as { id: string } | undefined;
    const todo: Array<[string, () => Promise<StepResult>]> = [];
    if (failover && FAILED_OVER_STATES.has(d.state) && !this.state.handledOrders.includes(failover.id)) {
      this.state.handledOrders.push(failover.id);
      todo.push(['services.stop', () => stopServices(f.services)]);
    }
    if (failback && ['restore_required', 'mirror_required', 'restoring_after_failback'].includes(d.state) && !this.state.handledOrders.includes(failback.id)) {
      this.state.handledOrders.push(failback.id);
      todo.push(['services.start', () => startServices(f.services)]);
      if (f.scripts.postFailback?.runOn === 'source') {
        todo.push(['script.postFailback', () => runPhaseScript(f.scripts, { jobId: this.jobId, jobName: d.name, role: 'source', phase: 'postFailback' })]);
      }
    }
    if (!todo.length) return;
    this.state.handledOrders = this.state.handledOrders.slice(-20);
    await this.save();
    for (const [, run] of todo) {
      const r = await run();
      this.sourceSteps = [...this.sourceSteps, r].slice(-20);
      this.ctx.log[r.ok ? 'info' : 'error']({ job: this.jobId, step: r.step, detail: r.detail }, 'source-side failover step');
    }
    this.ctx.onChange();
  }

  /** Capture and the sender run whenever the job runs, during the mirror too (changes made meanwhile are queued). */
  private async startReplication(): Promise<void> {
    if (this.replicating) return;
    this.replicating = true;
    const spec = this.spec;
    const limits = this.ctx.queueLimits();
    this.replicator = new Replicator({
      jobId: this.jobId, dataDir: this.ctx.dataDir, limits, log: this.ctx.log, onChange: this.ctx.onChange,
      compression: spec.compression === 'off' ? 0 : spec.compression,
      peer: () => this.peer,
      onExhausted: (reason) => {
        const lost = this.replicator?.lostPaths();
        void this.removeLostLeftovers();
        void this.autoMirror(`queue exhausted: ${reason}`, lost ?? undefined);
      },
      onRemirror: (reason) => void this.autoMirror(`the target asked for it: ${reason}`),
      onResend: (paths) => void this.capture?.resend(paths).catch((err) => this.ctx.log.warn({ job: this.jobId, err }, 'sending paths again failed')),
    });
    const intact = await this.replicator.open();
    const freshMirror = this.state.mirror?.status === 'running' && this.state.mirror.cursor === null;
    this.capture = new ChangeCapture({
      rules: spec.rules,
      indexDir: path.join(this.ctx.dataDir, 'jobs', this.jobId, 'capture'),
      batchMs: spec.replication.batchMs,
      rescanIntervalMs: spec.replication.rescanIntervalSec * 1000,
      onOps: (ops) => this.replicator!.enqueue(ops),
      onPersisted: () => this.replicator?.indexCommitted(),
      backlogged: () => { const q = this.replicator?.queueStats(); return !!q && q.lastSeq > q.ackedSeq; },
      onWarning: (w) => { this.captureWarnings.set(w.code, w); this.ctx.onChange(); },
      // A volume gone from under the set: a mirror would take its empty mount point for the truth, so it waits.
      onVolumesChanged: () => {
        if (this.capture?.heldVolumes().length) void this.halt();
        else this.kick();
        this.ctx.onChange(true);
      },
      mirrorCursor: () => (this.state.mirror?.status === 'running' ? this.state.mirror.cursor : undefined),
      log: this.ctx.log,
    });
    // A mirror starting from nothing makes the target identical: take the current tree as the baseline.
    // After a crash the persisted index still knows the tree, so changes made while the agent was down (deletes too) are found.
    const lost = this.replicator.lostPaths();
    await this.capture.start({ fresh: freshMirror, lostPaths: lost?.paths });
    if (lost && !freshMirror) await this.capture.resendLostFiles(lost.paths);
    if (lost) {
      this.replicator.lostPathsHandled();
      if (!lost.complete) this.warnLostIncomplete();
    }
    this.checkTransmission();
    this.replicator.setPaused(this.transmissionHeld() !== null);
    this.replicator.start();
    if (spec.failoverMonitor.services.length) {
      this.services = new ServiceMonitor(spec.failoverMonitor, { onChange: this.ctx.onChange });
      this.services.start();
    }
    this.fenceTimer = setInterval(() => { this.checkIsolation(); this.checkTransmission(); this.checkScheduledVerify(); }, 1000);
    this.fenceTimer.unref();
    if (!intact) await this.autoMirror('the replication queue was not intact after a restart');
  }

  private async stopReplication(discard: boolean): Promise<void> {
    if (!this.replicating) return;
    this.replicating = false;
    this.services?.stop();
    this.services = null;
    if (this.fenceTimer) clearInterval(this.fenceTimer);
    this.fenceTimer = null;
    // A job that does not send no longer holds the link to its limit.
    this.peer.limit.set(this.jobId, null);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.waitingForRoom = null;
    this.reconnectPending = false;
    await this.capture?.stop().catch(() => {});
    if (discard) await this.replicator?.discard().catch(() => {});
    await this.replicator?.close().catch(() => {});
    this.capture = null;
    this.replicator = null;
    this.captureWarnings.clear();
  }

  /** Auto-disconnect / crash recovery (manual): a difference mirror with block checksums, started by the source. */
  private async autoMirror(reason: string, lost?: { paths: string[]; complete: boolean }): Promise<void> {
    this.ctx.log.warn({ job: this.jobId, reason }, 'starting an automatic difference mirror');
    await this.halt();
    const id = randomId('auto');
    this.autoMirrorId = id;
    // Changes lost with the queue may have kept a file's size and time (a rewrite within one clock tick), which a
    // difference mirror takes for identical: the files they touched have their content compared. When the list
    // is incomplete or very long, every file is compared by blocks instead.
    const compareAll = !!lost && (!lost.complete || lost.paths.length > CHECK_CONTENT_MAX);
    this.state.mirror = {
      mirrorId: id, mode: compareAll ? 'all' : 'different', blockChecksum: true, newerOnly: false, status: 'running', cursor: null,
      ...(lost && !compareAll && lost.paths.length ? { checkContent: lost.paths } : {}),
      stats: emptyMirrorStats(id),
    };
    // A new connection follows the auto-disconnect (manual: the connection id bumps on auto-reconnect).
    this.connection = { id: null, since: null, error: null };
    await this.save();
    // Give the disk a moment when the queue ran out of space, then reconnect once there is room.
    this.reconnectPending = true;
    this.scheduleReconnect(AUTO_RECONNECT_DELAY_MS);
    this.ctx.onChange();
  }

  private scheduleReconnect(delayMs: number): void {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      void this.reconnectWhenRoom().catch((err) => this.ctx.log.warn({ job: this.jobId, err }, 'auto-reconnect check failed'));
    }, delayMs);
    this.reconnectTimer.unref();
  }

  /**
   * Auto-reconnect (manual: "when space returns"): the owed difference mirror starts only once the queue has room,
   * or changes made after it would exhaust the queue again at once. Until then the job says what it waits for.
   */
  private async reconnectWhenRoom(): Promise<void> {
    const replicator = this.replicator;
    if (!replicator) return;
    const room = await replicator.roomToReconnect();
    if (this.replicator !== replicator) return; // stopped meanwhile
    if (!room.ok) {
      if (this.waitingForRoom !== room.reason) this.ctx.log.warn({ job: this.jobId, reason: room.reason }, 'auto-disconnected: waiting for room in the queue');
      this.waitingForRoom = room.reason;
      this.ctx.onChange();
      this.scheduleReconnect(ROOM_RECHECK_MS);
      return;
    }
    if (this.waitingForRoom) this.ctx.log.info({ job: this.jobId }, 'room in the queue again: reconnecting');
    this.waitingForRoom = null;
    this.reconnectPending = false;
    replicator.clearExhausted();
    this.kick();
    this.ctx.onChange();
  }

  /**
   * The difference mirror sends what the source has; what operations lost with the exhausted queue removed or moved
   * away (after earlier ones had brought it to the target) is deleted on the target here, before later batches can
   * move it, so the job's orphan setting still decides only about files the source never sent.
   */
  private async removeLostLeftovers(): Promise<void> {
    const replicator = this.replicator;
    const capture = this.capture;
    const lost = replicator?.lostPaths();
    if (!replicator || !capture || !lost) return;
    await capture.removeFromTarget(lost.paths);
    if (this.capture !== capture) return; // stopped meanwhile: the journal keeps the paths
    replicator.lostPathsHandled();
    if (!lost.complete) this.warnLostIncomplete();
  }

  private warnLostIncomplete(): void {
    this.ctx.log.warn({ job: this.jobId }, 'more queued operations were lost than their paths could be kept for: the target may hold files the source removed; run a verify (tandem job verify ID) to list them');
  }

  /** Self-fencing: cut off from both the hub and the target for the failover window → stop sending. */
  private checkIsolation(): void {
    const monitor = this.spec.failoverMonitor;
    const d = shouldFenceSource({
      now: Date.now(), agentStartedAt: this.startedAt, lastHubContactAt: this.ctx.hubContactAt(),
      lastTargetContactAt: this.replicator?.lastContactAt ?? null, windowSec: monitor.failoverTimeSec,
    });
    const was = this.isolation;
    this.isolation = d.fence ? d.reason : null;
    if (!!was !== !!this.isolation) {
      this.ctx.log.warn({ job: this.jobId, fenced: !!this.isolation, reason: d.reason }, 'self-fencing state changed');
      this.replicator?.setPaused(this.transmissionHeld() !== null);
      if (this.isolation) void this.halt();
      else this.kick();
      this.ctx.onChange();
    }
  }

  /** Why nothing may be sent now: paused by the operator (or self-fenced), outside the transmit windows, or null. */
  private transmissionHeld(): 'paused' | 'scheduled' | null {
    if (this.desired.controls.paused || this.isolation) return 'paused';
    return this.outsideWindow ? 'scheduled' : null;
  }

  /**
   * The job's bandwidth limit and transmit windows at this minute of the agent's local time (manual 2.16 and the
   * transmit mode "Scheduled"): the limit goes to the link's shared bucket; a window closing stops what is being
   * sent (the mirror keeps its cursor, changes stay queued), one opening sends again.
   */
  private checkTransmission(): void {
    const spec = this.spec;
    const now = localTimeOf(Date.now());
    this.peer.limit.set(this.jobId, spec.bandwidth ? bandwidthLimitAt(spec.bandwidth, now) : null);
    const outside = !transmitWindowOpen(spec.transmitWindows ?? [], now);
    if (outside === this.outsideWindow) return;
    this.outsideWindow = outside;
    this.ctx.log.info({ job: this.jobId, windowOpen: !outside }, outside ? 'outside the transmit windows: holding what is to be sent' : 'transmit window open: sending');
    this.replicator?.setPaused(this.transmissionHeld() !== null);
    if (outside) void this.halt();
    else this.kick();
    this.ctx.onChange();
  }

  /**
   * The job's verify schedule (manual: verify on a schedule): when an occurrence is due and the job protects with
   * nothing else running, a verify starts with the job's verify options; the hub shows its report like a requested one.
   */
  private checkScheduledVerify(): void {
    const schedule = this.spec.verify?.schedule;
    if (!schedule) {
      if (this.state.verifySchedule) { this.state.verifySchedule = null; void this.save(); }
      return;
    }
    const key = JSON.stringify(schedule);
    if (this.state.verifySchedule?.key !== key) {
      this.state.verifySchedule = { key, since: Date.now() };
      void this.save();
      return;
    }
    if (this.desired.state !== 'protecting' || this.desired.controls.paused || this.fenced || this.isolation || this.hasWork()) return;
    const due = nextScheduledVerify(schedule, this.state.verifySchedule.since);
    if (due === null || due > Date.now()) return;
    const id = randomId('sched');
    const v = this.spec.verify;
    this.state.verifySchedule.since = Date.now();
    this.state.lastVerifyRequestId = id;
    this.state.verify = {
      verifyId: id, order: { mirrorDifferences: v.mirrorDifferences, newerOnly: v.newerOnly, blockChecksum: v.blockChecksum },
      status: 'running', cursor: null, report: { ...this.newReport(id), scheduled: true },
    };
    this.ctx.log.info({ job: this.jobId, verifyId: id }, 'scheduled verify starting');
    void this.save().then(() => this.kick(), (err) => this.ctx.log.warn({ job: this.jobId, err }, 'could not save the scheduled verify'));
  }

  private newReport(verifyId: string): VerifyReport {
    return { verifyId, startedAt: Date.now(), completedAt: null, filesCompared: 0, identical: 0, different: 0, missingOnTarget: 0, orphansOnTarget: 0, paths: [], truncated: false };
  }

  private hasWork(): boolean {
    return this.state.verify?.status === 'running' || this.state.mirror?.status === 'running';
  }

  private kick(): void {
    // Paused means nothing is sent, a mirror the source starts by itself (auto-reconnect) included: resume kicks it.
    if (this.running || this.fenced || this.reconnectPending || this.transmissionHeld() || !this.hasWork()) return;
    if (this.capture?.heldVolumes().length) return; // kicked again when the volume is back
    this.abort = new AbortController();
    const signal = this.abort.signal;
    this.running = this.work(signal).finally(() => {
      this.running = null;
      if (!signal.aborted && this.hasWork() && !this.fenced) setTimeout(() => this.kick(), this.retryDelay());
    });
  }

  /**
   * The target has not heard of the job (or its new epoch) yet: it will within a poll, so retry briskly for a
   * minute instead of backing off for seconds. Anything else backs off exponentially.
   */
  private retryDelay(): number {
    const code = this.lastWorkErrorCode;
    if (code === 'target_paused') return TARGET_PAUSED_RETRY_MS;
    if (code && PEER_CATCHING_UP.has(code)) {
      this.catchingUpSince ??= Date.now();
      if (Date.now() - this.catchingUpSince < 60_000) return 250;
    } else {
      this.catchingUpSince = null;
    }
    return backoffDelay(this.attempt++);
  }

  private async halt(): Promise<void> {
    this.abort.abort();
    await this.running?.catch(() => {});
    this.workBlocked = null; // stopped or paused: nothing is being retried
  }

  async stop(): Promise<void> {
    await this.halt();
    await this.stopReplication(false);
    this.peer.limit.set(this.jobId, null);
    await this.peer.close();
  }

  private async work(signal: AbortSignal): Promise<void> {
    const epoch = this.desired.epoch;
    let what: 'mirror' | 'verify' = this.state.verify?.status === 'running' ? 'verify' : 'mirror';
    try {
      const hello = await this.peer.json(`/v1/data/hello?job=${encodeURIComponent(this.jobId)}`, {}, HelloAnswer, signal);
      this.targetFeatures = new Set(hello.features ?? []);
      if (!this.connection.id) this.connection = { id: randomId('conn'), since: Date.now(), error: null };
      this.connection.error = null;
      if (this.state.verify?.status === 'running') await this.runVerify(signal);
      what = 'mirror';
      if (!signal.aborted && this.state.mirror?.status === 'running') await this.runMirror(signal);
      this.attempt = 0;
      this.lastWorkErrorCode = null;
      this.catchingUpSince = null;
      this.workBlocked = null;
    } catch (err) {
      if (signal.aborted) return;
      const e = err as TandemError;
      this.lastWorkErrorCode = e.code ?? null;
      this.connection = { id: null, since: null, error: e.message };
      this.workBlocked = WAITING_NOT_BLOCKED.has(e.code) ? null : { what, message: e.message };
      if (e.code === 'epoch_stale') {
        if (epoch === this.desired.epoch) this.fenced = e.message;
        this.ctx.log.error({ job: this.jobId }, 'fenced: the target refused our epoch; not replicating');
      } else if (!(err instanceof TandemError) || !RETRYABLE.has(e.code)) {
        this.ctx.log.error({ job: this.jobId, err: e.message, code: e.code }, 'mirror failed; retrying');
      } else {
        this.ctx.log.warn({ job: this.jobId, err: e.message }, 'peer not available; retrying');
      }
    } finally {
      this.ctx.onChange(true); // a mirror or verify ended (or failed): the operator should see it at once
    }
  }

  private async runMirror(signal: AbortSignal): Promise<void> {
    // The capture's background block index waits for the whole mirror, its size calculation included: both read
    // the whole protected set, and the mirror is what the operator waits for.
    this.capture?.holdBackgroundHashing(true);
    try {
      await this.calculateAndMirror(signal);
    } finally {
      this.capture?.holdBackgroundHashing(false);
    }
  }

  private async calculateAndMirror(signal: AbortSignal): Promise<void> {
    const m = this.state.mirror!;
    const stats = m.stats as MirrorStats;
    if (this.spec.mirror.calculateSize && stats.bytesTotal == null) {
      this.calculating = true;
      this.ctx.onChange();
      try {
        // The change capture has just stat'ed the whole set under the same rules (its baseline): its count saves
        // a walk of every path (about a third of a second per 20,000 files here, minutes for millions).
        const { files, bytes } = this.capture?.measure() ?? await measureProtectedSet(this.spec.rules, signal);
        stats.filesTotal = files;
        stats.bytesTotal = bytes;
      } finally {
        this.calculating = false;
      }
      if (signal.aborted) return;
    }
    const run = new MirrorRun({
      jobId: this.jobId, mirrorId: m.mirrorId, purpose: 'mirror', rules: this.spec.rules, mode: m.mode, newerOnly: m.newerOnly,
      blockChecksum: m.blockChecksum, orphans: this.spec.orphans, compression: this.spec.compression === 'off' ? 0 : this.spec.compression,
      peer: this.peer, after: m.cursor, stats, signal, dirNameParts: this.targetFeatures.has(TARGET_FEATURES.dirNameParts),
      checkContent: m.checkContent ? new Set(m.checkContent.map((p) => normalizeAbsolutePath(p))) : undefined,
      aroundBatch: (send) => (this.replicator ? this.replicator.holdDuring(send) : send()),
      // Gone when the mirror came to it, and perhaps moved to where the mirror has been: replication sends it again.
      onMissed: (paths) => void this.capture?.resend(paths, 'the mirror found them gone (moved or deleted)')
        .catch((err) => this.ctx.log.warn({ job: this.jobId, err }, 'sending paths again failed')),
      onUnreadable: (path, err) => this.ctx.log.warn({ job: this.jobId, path, err: (err as Error)?.message }, 'the mirror cannot read this path: left out, the target keeps its copy'),
      onBatch: async (cursor) => {
        if (cursor) m.cursor = cursor;
        this.workBlocked = null;
        await this.save();
        this.ctx.onChange();
      },
    });
    await run.run();
    if (signal.aborted) return;
    m.status = 'complete';
    m.cursor = null;
    await this.save();
    this.ctx.log.info({ job: this.jobId, filesSent: stats.filesSent, bytesSent: stats.bytesSent }, 'mirror complete');
  }

  private async runVerify(signal: AbortSignal): Promise<void> {
    const v = this.state.verify!;
    const report = v.report as VerifyReport;
    const run = new MirrorRun({
      jobId: this.jobId, mirrorId: v.verifyId, purpose: 'verify', rules: this.spec.rules, mode: 'different', newerOnly: v.order.newerOnly,
      blockChecksum: v.order.blockChecksum, orphans: this.spec.orphans, compression: 0, peer: this.peer, after: v.cursor,
      dirNameParts: this.targetFeatures.has(TARGET_FEATURES.dirNameParts),
      stats: emptyMirrorStats(null), verify: report, signal,
      onBatch: async (cursor) => {
        if (cursor) v.cursor = cursor;
        this.workBlocked = null;
        await this.save();
      },
    });
    await run.run();
    if (signal.aborted) return;
    v.status = 'complete';
    v.cursor = null;
    // Orphans count as differences when the job deletes or moves them: the mirror that follows does that.
    const orphansToHandle = this.spec.orphans.action !== 'keep' ? report.orphansOnTarget : 0;
    if (v.order.mirrorDifferences && report.different + report.missingOnTarget + orphansToHandle > 0) {
      // Verify → mirror the differences, with the verify's options (manual 2.10).
      // Mode "all" with block checksums also catches files whose size and time match but whose blocks differ.
      this.state.mirror = {
        mirrorId: `${v.verifyId}-mirror`, mode: v.order.blockChecksum ? 'all' : 'different', blockChecksum: v.order.blockChecksum, newerOnly: v.order.newerOnly,
        status: 'running', cursor: null, stats: emptyMirrorStats(`${v.verifyId}-mirror`),
      };
    }
    await this.save();
  }

  private transmitReport(): JobReport['transmit'] {
    const windows = this.spec.transmitWindows ?? [];
    // A search over the coming week's minutes: done once a minute (and when the windows change), not per report.
    const key = `${Math.floor(Date.now() / 60_000)} ${JSON.stringify(windows)}`;
    if (this.windowChange?.key !== key) {
      this.windowChange = { key, at: windows.length ? nextChangeAt((t) => transmitWindowOpen(windows, t), Date.now()) : null };
    }
    return { limitBytesPerSec: this.peer.limit.rate(), windowOpen: !this.outsideWindow, windowChangesAt: this.windowChange.at };
  }

  private protectedRoots(): string[] {
    if (this.roots.rules !== this.spec.rules) this.roots = { rules: this.spec.rules, roots: protectedRoots(this.spec.rules) };
    return this.roots.roots;
  }

  report(): JobReport {
    const m = this.state.mirror;
    let mirrorStatus: MirrorStatus = 'idle';
    let targetDataState: TargetDataState = 'ok';
    if (this.state.verify?.status === 'running' && this.running) mirrorStatus = 'verifying';
    else if (this.calculating) mirrorStatus = 'calculating';
    else if (m?.status === 'running') mirrorStatus = this.running && this.connection.id ? 'in_progress' : 'waiting';
    else if (m?.status === 'paused') mirrorStatus = 'paused';
    else if (m?.status === 'stopped') mirrorStatus = 'stopped';
    // A difference mirror the source owes the target (auto-disconnect, crash) is "mirror required" until it sends.
    const owedNotSending = m?.status === 'running' && m.mirrorId === this.autoMirrorId && mirrorStatus === 'waiting';
    if (!m || m.status !== 'complete') targetDataState = m?.status === 'stopped' || !m || owedNotSending ? 'mirror_required' : 'mirroring';
    const running = this.desired.run === 'running';
    const rep = this.replicator?.status(running, this.transmissionHeld());
    const fenced = this.fenced ?? this.replicator?.fencedBy ?? this.isolation;
    return {
      jobId: this.jobId, role: 'source', epoch: this.desired.epoch, at: Date.now(),
      mirrorStatus, mirror: (m?.stats as MirrorStats) ?? emptyMirrorStats(null),
      mirrorRequestId: m?.mirrorId ?? null, mirrorComplete: m?.status === 'complete', autoMirror: !!m && m.mirrorId === this.autoMirrorId,
      targetDataState, verify: (this.state.verify?.report as VerifyReport) ?? null,
      connection: this.connection,
      replicationStatus: rep?.replicationStatus ?? (running ? 'pending' : 'stopped'),
      transmitMode: fenced ? 'error' : rep?.transmitMode ?? (running ? 'active' : 'stopped'),
      // The capture's own figures: what it watches and tracks, and how many files still wait for a block index.
      replication: rep ? { ...rep.replication, capture: this.capture?.stats() ?? null } : undefined,
      warnings: [
        ...[...this.captureWarnings.values()].map((w) => ({ code: w.code, message: w.message })),
        ...(this.waitingForRoom ? [{ code: 'queue_waiting_for_space', message: this.waitingForRoom }] : []),
        ...rootsThatAreLinks(this.protectedRoots()).map((l) => ({ code: 'root_is_symlink', message: rootLinkMessage(l) })),
        ...(this.capture?.heldVolumes() ?? []).map((v) => ({
          code: 'source_volume_changed',
          message: `The file system at ${v.path} is not the one protected there (device ${v.was}, now ${v.now}): an unmounted volume, most likely. Nothing under it is replicated or mirrored, and the target keeps its copy. Mount the volume again and replication goes on by itself. If a new volume replaces it, its data is on the target: fail over, or copy it back, before you stop and start the job (a start mirrors the new volume onto the replica).`,
        })),
        ...(this.workBlocked ? [{ code: 'mirror_blocked', message: `The ${this.workBlocked.what} cannot go on (retrying): ${this.workBlocked.message}` }] : []),
        // Nothing is sent to a peer that is not the registered one: the job is unprotected until that is resolved.
        ...(this.peer.certMismatch ? [{ code: 'peer_cert_mismatch', message: this.peer.certMismatch }] : []),
      ],
      transmit: this.transmitReport(),
      probes: this.services?.recent(),
      sourceSteps: this.sourceSteps,
      fenced: fenced ?? null,
      lastError: fenced ?? this.waitingForRoom ?? this.connection.error,
    };
  }
}
