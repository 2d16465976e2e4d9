// The hub as witness and decider: every second, for each protected job, combine the target's monitor probes with
// the source's own polling and move the job through the transition table (condition met, automatic failover).
import { eq, inArray } from 'drizzle-orm';
import type { FilesJobSpec } from '../../shared/jobs/definition';
import { effectiveMonitor } from '../../shared/jobs/monitor-target';
import type { JobReport } from '../../shared/protocol/jobs';
import type { JobState } from '../../shared/states';
import { randomId } from '../../shared/tokens';
import { jobs, servers } from '../db/schema';
import type { HubDeps } from '../deps';
import { decideAction, decideFailover } from './decide';
import { transitionIfLegal } from '../jobs/transition';
import type { JobRow } from '../jobs/lookup';

const WATCHED: JobState[] = ['starting', 'mirroring', 'protecting', 'paused', 'failover_condition_met'];

export function failoverOrder(queueAction: 'apply' | 'discard', automatic: boolean) {
  return { id: randomId('fo'), queueAction, automatic };
}

export async function evaluateFailovers(deps: HubDeps): Promise<void> {
  const rows = await deps.db.select().from(jobs).where(inArray(jobs.state, WATCHED));
  for (const job of rows) {
    try {
      await evaluateJob(deps, job);
    } catch (err) {
      deps.log.error({ job: job.id, err: String(err) }, 'failover evaluation failed');
    }
  }
}

async function evaluateJob(deps: HubDeps, job: JobRow): Promise<void> {
  const spec = job.spec as unknown as FilesJobSpec;
  const [source] = await deps.db.select().from(servers).where(eq(servers.id, job.sourceServerId));
  if (!source) return;
  const report = job.targetStatus as JobReport | null;
  const now = deps.clock.now();
  const decision = decideFailover({
    monitor: effectiveMonitor(spec.failoverMonitor, source.addresses),
    // Network and service probes come from the target; monitored systemd units are checked by the source itself.
    probes: [
      ...(report?.epoch === job.epoch ? report.probes ?? [] : []),
      ...(((job.sourceStatus as JobReport | null)?.probes ?? []).filter((p) => p.method === 'services')),
    ],
    sourceLastPollAt: source.lastSeenAt,
    hubStartedAt: deps.config.startedAt,
    now,
  });
  const action = decideAction(job.state as JobState, decision.conditionMet, spec.failover.waitForUser);
  if (action === 'none') return;
  const reason = decision.reasons.filter(Boolean).slice(0, 4).join('; ');
  if (action === 'mark_condition_met') {
    const next = await transitionIfLegal(deps, job, 'condition_met');
    if (next.state === 'failover_condition_met') {
      deps.log.warn({ job: job.id, reason }, 'failover condition met');
      deps.events.raise({ event: 'job.failover_condition_met', orgId: job.orgId, jobId: job.id, fields: { jobName: job.name, reason, automatic: false } });
    }
  } else if (action === 'clear_condition') {
    await transitionIfLegal(deps, job, 'condition_cleared');
  } else if (action === 'order_failover') {
    deps.events.raise({ event: 'job.failover_condition_met', orgId: job.orgId, jobId: job.id, fields: { jobName: job.name, reason, automatic: true } });
    // The order travels with the state change, so no agent ever sees "failing over" without it.
    const controls = { ...job.controls, failover: failoverOrder(spec.failover.queueAction, true) };
    const next = await transitionIfLegal(deps, job, 'failover', { controls });
    if (next.state === 'failing_over') {
      deps.events.raise({ event: 'failover.started', orgId: job.orgId, jobId: job.id, fields: { jobName: job.name, targetName: job.targetServerId, mode: 'automatic' } });
    }
  }
}

/** Runs the evaluation every second until stopped (Node; on Workers a cron trigger calls evaluateFailovers). */
export function startFailoverLoop(deps: HubDeps, everyMs = 1000): () => void {
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void evaluateFailovers(deps).finally(() => { busy = false; });
  }, everyMs);
  timer.unref?.();
  return () => clearInterval(timer);
}
