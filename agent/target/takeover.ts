// Failover and failback on the target, as an ordered list of steps (pure plan) run one by one with every result
// reported; the first failing step stops the run so the job ends in a clear state, never silently half-done.
import path from 'node:path';
import type { FilesJobSpec } from '../../shared/jobs/definition';
import type { ActionProgress, StepResult } from '../../shared/protocol/jobs';
import {
  runPhaseScript, startServices, stopServices, moveAddressesIn, releaseAddresses, runDnsHook, blockPaths, unblockPaths,
} from '../failover';
import type { AgentLogger } from '../log';
import { readJson, writeFileAtomic } from '../state-store';
import { ActionProgress as ActionProgressSchema } from '../../shared/protocol/jobs';

export type TakeoverKind = 'failover' | 'failback';

export type StepName =
  | 'queue.apply' | 'queue.discard' | 'script.preFailover' | 'paths.unblock' | 'identity.moveAddresses' | 'identity.dnsHook'
  | 'services.start' | 'script.postFailover' | 'script.preFailback' | 'services.stop' | 'identity.releaseAddresses'
  | 'paths.block' | 'script.postFailback';

/** The manual's order of failover and failback steps on the target (pure, so it can be read and tested). */
export function takeoverPlan(kind: TakeoverKind, spec: FilesJobSpec, queueAction: 'apply' | 'discard'): StepName[] {
  const f = spec.failover;
  const moves = f.identity.mode === 'move_addresses';
  if (kind === 'failover') {
    return [
      queueAction === 'apply' ? 'queue.apply' : 'queue.discard',
      'script.preFailover',
      ...(f.blockTargetPaths ? ['paths.unblock' as const] : []),
      ...(moves ? ['identity.moveAddresses' as const] : []),
      ...(f.identity.dnsHook ? ['identity.dnsHook' as const] : []),
      'services.start',
      'script.postFailover',
    ];
  }
  return [
    'script.preFailback',
    'services.stop',
    ...(moves ? ['identity.releaseAddresses' as const] : []),
    ...(f.blockTargetPaths ? ['paths.block' as const] : []),
    'script.postFailback',
  ];
}

export interface TakeoverContext {
  jobId: string;
  jobName: string;
  spec: FilesJobSpec;
  replicaRoots: string[];
  dataDir: string;
  log: AgentLogger;
  /** Applies (or discards) what the target still holds in its queue. */
  drainQueue: (action: 'apply' | 'discard') => Promise<StepResult>;
  onProgress: () => void;
}

export class TakeoverRunner {
  progress: ActionProgress | null = null;

  constructor(private ctx: TakeoverContext) {}

  private get file() {
    return path.join(this.ctx.dataDir, 'jobs', this.ctx.jobId, 'takeover.json');
  }

  async load(): Promise<void> {
    this.progress = await readJson(this.file, ActionProgressSchema).catch(() => null);
  }

  private async save(): Promise<void> {
    await writeFileAtomic(this.file, JSON.stringify(this.progress));
    this.ctx.onProgress();
  }

  /** Runs an order once: a finished order (done or failed) is only reported again, never re-run. */
  async run(kind: TakeoverKind, orderId: string, queueAction: 'apply' | 'discard'): Promise<void> {
    if (this.progress?.id === orderId && this.progress.status !== 'running') return;
    this.progress = { id: orderId, kind, status: 'running', steps: [], startedAt: Date.now(), completedAt: null };
    await this.save();
    this.ctx.log.warn({ job: this.ctx.jobId, kind, order: orderId }, `${kind} started`);
    for (const step of takeoverPlan(kind, this.ctx.spec, queueAction)) {
      const result = await this.step(step, queueAction);
      this.progress.steps.push(result);
      await this.save();
      if (!result.ok) {
        this.ctx.log.error({ job: this.ctx.jobId, step, detail: result.detail }, `${kind} step failed`);
        this.progress.status = 'failed';
        this.progress.completedAt = Date.now();
        await this.save();
        return;
      }
    }
    this.progress.status = 'done';
    this.progress.completedAt = Date.now();
    await this.save();
    this.ctx.log.warn({ job: this.ctx.jobId, kind }, `${kind} completed`);
  }

  private step(step: StepName, queueAction: 'apply' | 'discard'): Promise<StepResult> {
    const { spec, jobId, jobName } = this.ctx;
    const f = spec.failover;
    const scriptCtx = (phase: 'preFailover' | 'postFailover' | 'preFailback' | 'postFailback') =>
      runPhaseScript(f.scripts, { jobId, jobName, role: 'target', phase, logDir: path.join(this.ctx.dataDir, 'jobs', jobId, 'scripts') });
    const blockState = path.join(this.ctx.dataDir, 'jobs', jobId, 'blocked-paths.json');
    switch (step) {
      case 'queue.apply':
      case 'queue.discard':
        return this.ctx.drainQueue(queueAction);
      case 'script.preFailover': return scriptCtx('preFailover');
      case 'script.postFailover': return scriptCtx('postFailover');
      case 'script.preFailback': return scriptCtx('preFailback');
      case 'script.postFailback': return scriptCtx('postFailback');
      case 'paths.unblock': return unblockPaths(this.ctx.replicaRoots, { stateFile: blockState });
      case 'paths.block': return blockPaths(this.ctx.replicaRoots, { stateFile: blockState });
      case 'identity.moveAddresses': return moveAddressesIn(f.identity.addresses);
      case 'identity.releaseAddresses': return releaseAddresses(f.identity.addresses);
      case 'identity.dnsHook': return runDnsHook(f.identity.dnsHook!, { jobId, jobName, event: 'failover' });
      case 'services.start': return startServices(f.services);
      // Failback reverses the failover order (manual 2.13).
      case 'services.stop': return stopServices([...f.services].reverse());
    }
  }
}
