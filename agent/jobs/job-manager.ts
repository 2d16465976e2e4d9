// Reconciles the agent's jobs with the hub's goal state (kept on disk, so jobs carry on after a restart
// without the hub), and gathers their status reports for the next poll.
import path from 'node:path';
import { rm } from 'node:fs/promises';
import { z } from 'zod';
import type { JWK } from 'jose';
import { DesiredJob, type JobBusy, type JobReport } from '../../shared/protocol/jobs';
import type { AgentLogger } from '../log';
import { readJson, writeFileAtomic } from '../state-store';
import type { DataServer } from '../data-server';
import { SourceJob } from '../source/source-job';
import { TargetJob } from '../target/target-job';
import { registerTargetRoutes } from '../target/receiver';
import { HubKeyCache } from './hub-keys';

const DesiredFile = z.array(DesiredJob);
/** How long an update or stop of a running job goes unreported before the job reports itself busy. */
export const BUSY_SILENT_MS = 5_000;
/** The server settings the jobs act on, kept with the goal state so a restart without the hub keeps them. */
const SettingsFile = z.object({ targetPaused: z.boolean(), queue: z.record(z.string(), z.unknown()) });

export class JobManager {
  private sources = new Map<string, SourceJob>();
  private targets = new Map<string, TargetJob>();
  readonly keys: HubKeyCache;
  private lastDesired = '';
  private chain: Promise<void> = Promise.resolve();
  /**
   * Jobs being started, updated or stopped right now, and new jobs waiting for their turn to start ("role:jobId").
   * Polls go on meanwhile (see PollLoop.enqueue); a report taken halfway (a new epoch with the old mirror's state)
   * could mislead the hub, so such a job reports only that it is busy: the hub knows the agent has it in hand (a
   * big set takes minutes to start) instead of finding its report missing. A job already running reports nothing
   * for the first BUSY_SILENT_MS of an update or stop (most take milliseconds; the hub keeps showing its last
   * report), so a goal that changed another job does not flash "busy" on every job of the agent.
   */
  private busy = new Map<string, { role: 'source' | 'target'; jobId: string; busy: JobBusy; epoch: number; since: number; queued: boolean }>();
  /** Why a job's last start failed ("role:jobId"), told in its busy reports until a start succeeds. */
  private startErrors = new Map<string, string>();
  /** Target pause (server setting): keep receiving into the target queue, apply nothing. */
  targetPaused = false;
  /** Queue limits from the server's settings (queue.memoryMaxMB, diskMaxMB, diskFreeMinMB). */
  queueSettings: Record<string, unknown> = {};
  /** The settings as last saved (settings.json), so they are written only when they change. */
  private lastSettings = '';

  constructor(private ctx: {
    dataDir: string; serverId: string; log: AgentLogger; data: DataServer; onChange: (urgent?: boolean) => void; hubContactAt: () => number | null;
    /** Tests: BUSY_SILENT_MS instead. */
    busySilentMs?: number;
  }) {
    this.keys = new HubKeyCache(ctx.dataDir);
    registerTargetRoutes(ctx.data, (id) => this.targets.get(id));
  }

  private get desiredFile() {
    return path.join(this.ctx.dataDir, 'jobs', 'desired.json');
  }

  private get settingsFile() {
    return path.join(this.ctx.dataDir, 'jobs', 'settings.json');
  }

  /**
   * Restores the last goal state from disk: replication does not wait for the hub. The jobs start in the background
   * (each one's change capture first compares its whole set with its index, some 35 s per million files), so the agent
   * polls the hub meanwhile; the hub's goals queue behind. `restored` resolves once they have started.
   */
  async start(): Promise<{ restored: Promise<void> }> {
    await this.keys.load();
    const settings = await readJson(this.settingsFile, SettingsFile).catch(() => null);
    if (settings) {
      this.targetPaused = settings.targetPaused;
      this.queueSettings = settings.queue;
      this.lastSettings = JSON.stringify(settings);
    }
    const saved = await readJson(this.desiredFile, DesiredFile).catch(() => null);
    if (!saved) return { restored: Promise.resolve() };
    this.noteGoal(saved);
    const restored = this.chain.then(() => this.reconcile(saved, null)).catch((err: unknown) => {
      this.ctx.log.error({ err: (err as Error)?.message ?? String(err) }, 'restoring the jobs from the last goal state failed; the hub\'s goal is applied at the next poll');
    });
    this.chain = restored;
    return { restored };
  }

  /**
   * Called with each poll's desired state; serialised so reconciliations never interleave. The caller notes the goal
   * when it arrives (noteGoal): applied later, an older goal must not undo what a newer one noted.
   */
  apply(desired: { jobs?: unknown; hubKeys?: unknown }, settings: Record<string, unknown> = {}): Promise<void> {
    const run = async () => {
      this.targetPaused = settings.targetPaused === true;
      this.queueSettings = (settings.queue as Record<string, unknown>) ?? {};
      const kept = JSON.stringify({ targetPaused: this.targetPaused, queue: this.queueSettings });
      if (kept !== this.lastSettings) {
        this.lastSettings = kept;
        await writeFileAtomic(this.settingsFile, kept);
      }
      if (Array.isArray(desired.hubKeys)) await this.keys.update(desired.hubKeys as JWK[]);
      const parsed = DesiredFile.safeParse(desired.jobs ?? []);
      if (!parsed.success) {
        this.ctx.log.error({}, 'hub sent a goal state this agent cannot read; upgrade the agent');
        return;
      }
      await this.reconcile(parsed.data, JSON.stringify(parsed.data));
    };
    this.chain = this.chain.then(run, run);
    return this.chain;
  }

  /**
   * A goal state as it arrives (from the hub, or from disk at start): its new jobs report `starting` from now, though
   * it may wait behind another job's start; new jobs an earlier goal had and this one has not are no longer waited for.
   */
  noteGoal(jobs: unknown): void {
    const parsed = DesiredFile.safeParse(jobs ?? []);
    if (!parsed.success) return; // apply() says so
    const wanted = new Set(parsed.data.map((d) => `${d.role}:${d.jobId}`));
    for (const [key, b] of this.busy) if (b.queued && !wanted.has(key)) this.busy.delete(key);
    for (const d of parsed.data) {
      const key = `${d.role}:${d.jobId}`;
      const known = d.role === 'source' ? this.sources.has(d.jobId) : this.targets.has(d.jobId);
      if (!known && !this.busy.has(key)) this.busy.set(key, { role: d.role, jobId: d.jobId, busy: 'starting', epoch: d.epoch, since: Date.now(), queued: true });
    }
    for (const key of this.startErrors.keys()) if (!wanted.has(key)) this.startErrors.delete(key);
  }

  private async reconcile(list: DesiredJob[], serialized: string | null): Promise<void> {
    if (serialized !== null && serialized !== this.lastDesired) {
      this.lastDesired = serialized;
      await writeFileAtomic(this.desiredFile, serialized);
    }
    const wantSource = new Map(list.filter((d) => d.role === 'source').map((d) => [d.jobId, d]));
    const wantTarget = new Map(list.filter((d) => d.role === 'target').map((d) => [d.jobId, d]));
    for (const [id, job] of this.sources) {
      if (!wantSource.has(id)) {
        await this.changingJob('source', id, 'stopping', job.report().epoch, () => job.stop());
        this.sources.delete(id);
        await rm(path.join(this.ctx.dataDir, 'jobs', id), { recursive: true, force: true });
        this.ctx.log.info({ job: id }, 'job removed from this source');
      }
    }
    for (const [id, t] of this.targets) {
      if (!wantTarget.has(id)) {
        this.targets.delete(id);
        await this.changingJob('target', id, 'stopping', t.epoch, () => t.close());
        await rm(path.join(this.ctx.dataDir, 'jobs', id, 'target'), { recursive: true, force: true });
      }
    }
    for (const d of wantTarget.values()) {
      await this.changingJob('target', d.jobId, this.targets.has(d.jobId) ? 'updating' : 'starting', d.epoch, async () => {
        let t = this.targets.get(d.jobId);
        if (!t) {
          t = new TargetJob(d, {
            serverId: this.ctx.serverId, keys: this.keys, log: this.ctx.log, dataDir: this.ctx.dataDir, onChange: this.ctx.onChange,
            queueLimits: () => queueLimitsFrom(this.queueSettings),
          });
          // Paused before it opens: what its queue held at a restart waits for target-resume like the rest.
          t.sink.setPaused(this.targetPaused && d.state !== 'failing_over');
          await t.open();
          this.targets.set(d.jobId, t);
        }
        await t.update(d, this.targetPaused);
      });
    }
    for (const d of wantSource.values()) {
      await this.changingJob('source', d.jobId, this.sources.has(d.jobId) ? 'updating' : 'starting', d.epoch, async () => {
        let s = this.sources.get(d.jobId);
        if (!s) {
          s = new SourceJob(d, {
            dataDir: this.ctx.dataDir, log: this.ctx.log, onChange: this.ctx.onChange, hubContactAt: this.ctx.hubContactAt,
            queueLimits: () => queueLimitsFrom(this.queueSettings),
          });
          await s.init();
          this.sources.set(d.jobId, s);
        }
        await s.update(d);
      });
    }
  }

  private async changingJob(role: 'source' | 'target', jobId: string, busy: JobBusy, epoch: number, change: () => Promise<void>): Promise<void> {
    const key = `${role}:${jobId}`;
    this.busy.set(key, { role, jobId, busy, epoch, since: Date.now(), queued: false });
    try {
      await change();
      this.startErrors.delete(key);
    } catch (err) {
      // A start that failed is tried again with the goal (after a back-off): meanwhile the job says why.
      if (busy === 'starting') this.startErrors.set(key, `starting the job failed: ${(err as Error)?.message ?? String(err)}; retrying`);
      throw err;
    } finally {
      this.busy.delete(key);
    }
  }

  /** Command handlers the daemon registers on the poll channel. */
  commandHandlers() {
    const target = (payload: unknown) => {
      const jobId = String((payload as { jobId?: string })?.jobId ?? '');
      const t = this.targets.get(jobId);
      if (!t) throw new Error(`This agent is not the target of job ${jobId}.`);
      return t;
    };
    return {
      'snapshot.take': async (payload: unknown) => target(payload).snapshotCommand('take'),
      'snapshot.delete': async (payload: unknown) => target(payload).snapshotCommand('delete', String((payload as { snapshotId?: string }).snapshotId ?? '')),
    };
  }

  reports(): JobReport[] {
    const at = Date.now();
    const silentMs = this.ctx.busySilentMs ?? BUSY_SILENT_MS;
    const busy = [...this.busy].filter(([, b]) => b.busy === 'starting' || at - b.since >= silentMs).map(([key, b]): JobReport => {
      const error = this.startErrors.get(key);
      return { jobId: b.jobId, role: b.role, epoch: b.epoch, at, busy: b.busy, ...(error ? { lastError: error } : {}) };
    });
    const settled = (role: string, id: string) => !this.busy.has(`${role}:${id}`);
    return [
      ...[...this.sources].filter(([id]) => settled('source', id)).map(([, s]) => s.report()),
      ...[...this.targets].filter(([id]) => settled('target', id)).map(([, t]) => t.report()),
      ...busy,
    ];
  }

  async stop(): Promise<void> {
    await this.chain.catch(() => {});
    for (const s of this.sources.values()) await s.stop();
    for (const t of this.targets.values()) await t.close();
  }
}

/** Server settings (MB) → queue limits (bytes). */
export function queueLimitsFrom(q: Record<string, unknown>): Record<string, number> {
  const MB = 1024 * 1024;
  const out: Record<string, number> = {};
  if (typeof q.memoryMaxMB === 'number') out.memoryMaxBytes = q.memoryMaxMB * MB;
  if (typeof q.diskMaxMB === 'number') out.diskMaxBytes = q.diskMaxMB * MB;
  if (q.diskMaxMB === null) out.diskMaxBytes = Infinity;
  if (typeof q.diskFreeMinMB === 'number') out.diskFreeMinBytes = q.diskFreeMinMB * MB;
  return out;
}
