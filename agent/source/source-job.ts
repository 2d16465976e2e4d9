// A job on its source: acts on the hub's mirror and verify requests once each, runs them against the target,
// keeps the cursor on disk so a killed agent or a dropped link resumes where it was, and reports status.
import path from 'node:path';
import { z } from 'zod';
import type { DesiredJob, JobReport, MirrorStats, VerifyReport } from '../../shared/protocol/jobs';
import type { FilesJobSpec } from '../../shared/jobs/definition';
import type { MirrorStatus, TargetDataState } from '../../shared/states';
import { TandemError } from '../../shared/errors';
import { backoffDelay } from '../../shared/backoff';
import { randomId } from '../../shared/tokens';
import { PeerClient } from '../peer/client';
import type { AgentLogger } from '../log';
import { readJson, writeFileAtomic } from '../state-store';
import { MirrorRun, emptyMirrorStats } from './mirror';
import { measureProtectedSet } from './walker';

const MirrorState = z.object({
  mirrorId: z.string(),
  mode: z.enum(['all', 'different']),
  blockChecksum: z.boolean(),
  newerOnly: z.boolean(),
  status: z.enum(['running', 'paused', 'stopped', 'complete']),
  cursor: z.string().nullable(),
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
  lastMirrorRequestId: z.string().nullable(),
  lastVerifyRequestId: z.string().nullable(),
  mirror: MirrorState.nullable(),
  verify: VerifyState.nullable(),
});
type SourceState = z.infer<typeof SourceState>;

const RETRYABLE = new Set(['peer_unreachable', 'job_unknown', 'epoch_ahead', 'job_not_running', 'peer_error', 'internal', 'file_chunk_gap']);

export class SourceJob {
  private desired: DesiredJob;
  private state: SourceState = { lastMirrorRequestId: null, lastVerifyRequestId: null, mirror: null, verify: null };
  private peer: PeerClient;
  private abort = new AbortController();
  private running: Promise<void> | null = null;
  private calculating = false;
  private connection: { id: string | null; since: number | null; error: string | null } = { id: null, since: null, error: null };
  private fenced: string | null = null;
  private attempt = 0;

  constructor(desired: DesiredJob, private ctx: { dataDir: string; log: AgentLogger; onChange: () => void }) {
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
    this.desired = d;
    if (peerChanged) {
      void this.peer.close();
      this.peer = this.makePeer(d);
    }
    if (epochChanged) this.fenced = null;
    if (d.run === 'stopped') {
      // Stop discards what was in flight; the next start remirrors.
      if (this.state.mirror && this.state.mirror.status !== 'complete') this.state.mirror.status = 'stopped';
      this.state.verify = null;
      await this.halt();
      await this.save();
      return;
    }
    let changed = false;
    const m = d.mirror;
    if (m && m.id !== this.state.lastMirrorRequestId) {
      changed = true;
      this.state.lastMirrorRequestId = m.id;
      const current = this.state.mirror;
      if (m.action === 'start') {
        await this.halt();
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
    if (d.controls.paused) {
      await this.halt();
      return;
    }
    this.kick();
  }

  private newReport(verifyId: string): VerifyReport {
    return { verifyId, startedAt: Date.now(), completedAt: null, filesCompared: 0, identical: 0, different: 0, missingOnTarget: 0, orphansOnTarget: 0, paths: [], truncated: false };
  }

  private hasWork(): boolean {
    return this.state.verify?.status === 'running' || this.state.mirror?.status === 'running';
  }

  private kick(): void {
    if (this.running || this.fenced || !this.hasWork()) return;
    this.abort = new AbortController();
    const signal = this.abort.signal;
    this.running = this.work(signal).finally(() => {
      this.running = null;
      if (!signal.aborted && this.hasWork() && !this.fenced) setTimeout(() => this.kick(), backoffDelay(this.attempt++));
    });
  }

  private async halt(): Promise<void> {
    this.abort.abort();
    await this.running?.catch(() => {});
  }

  async stop(): Promise<void> {
    await this.halt();
    await this.peer.close();
  }

  private async work(signal: AbortSignal): Promise<void> {
    try {
      await this.peer.json(`/v1/data/hello?job=${encodeURIComponent(this.jobId)}`, {}, signal);
      if (!this.connection.id) this.connection = { id: randomId('conn'), since: Date.now(), error: null };
      this.connection.error = null;
      if (this.state.verify?.status === 'running') await this.runVerify(signal);
      if (!signal.aborted && this.state.mirror?.status === 'running') await this.runMirror(signal);
      this.attempt = 0;
    } catch (err) {
      if (signal.aborted) return;
      const e = err as TandemError;
      this.connection = { id: null, since: null, error: e.message };
      if (e.code === 'epoch_stale') {
        this.fenced = e.message;
        this.ctx.log.error({ job: this.jobId }, 'fenced: the target refused our epoch; not replicating');
      } else if (!(err instanceof TandemError) || !RETRYABLE.has(e.code)) {
        this.ctx.log.error({ job: this.jobId, err: e.message, code: e.code }, 'mirror failed; retrying');
      } else {
        this.ctx.log.warn({ job: this.jobId, err: e.message }, 'peer not available; retrying');
      }
    } finally {
      this.ctx.onChange();
    }
  }

  private async runMirror(signal: AbortSignal): Promise<void> {
    const m = this.state.mirror!;
    const stats = m.stats as MirrorStats;
    if (this.spec.mirror.calculateSize && stats.bytesTotal == null) {
      this.calculating = true;
      this.ctx.onChange();
      try {
        const { files, bytes } = await measureProtectedSet(this.spec.rules, signal);
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
      peer: this.peer, after: m.cursor, stats, signal,
      onBatch: async (cursor) => {
        if (cursor) m.cursor = cursor;
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
      stats: emptyMirrorStats(null), verify: report, signal,
      onBatch: async (cursor) => {
        if (cursor) v.cursor = cursor;
        await this.save();
      },
    });
    await run.run();
    if (signal.aborted) return;
    v.status = 'complete';
    v.cursor = null;
    if (v.order.mirrorDifferences && report.different + report.missingOnTarget > 0) {
      // Verify → mirror the differences, with the verify's options (manual 2.10).
      this.state.mirror = {
        mirrorId: `${v.verifyId}-mirror`, mode: 'different', blockChecksum: v.order.blockChecksum, newerOnly: v.order.newerOnly,
        status: 'running', cursor: null, stats: emptyMirrorStats(`${v.verifyId}-mirror`),
      };
    }
    await this.save();
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
    if (!m || m.status !== 'complete') targetDataState = m?.status === 'stopped' || !m ? 'mirror_required' : 'mirroring';
    return {
      jobId: this.jobId, role: 'source', epoch: this.desired.epoch, at: Date.now(),
      mirrorStatus, mirror: (m?.stats as MirrorStats) ?? emptyMirrorStats(null),
      mirrorRequestId: m?.mirrorId ?? null, mirrorComplete: m?.status === 'complete',
      targetDataState, verify: (this.state.verify?.report as VerifyReport) ?? null,
      connection: this.connection,
      transmitMode: this.fenced ? 'error' : this.desired.controls.paused ? 'paused' : this.connection.id ? 'active' : 'error',
      lastError: this.fenced ?? this.connection.error,
    };
  }
}
