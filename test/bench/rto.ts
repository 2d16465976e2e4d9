// RTO benchmark (issue 5): automatic failover with a 5 s service monitor; SIGKILL the source agent and time
// until the job reports failed_over, broken down into detection (kill → condition met), decision (condition
// met → the target starts the takeover), takeover (the target's steps) and reporting (takeover done → the
// hub's job view says failed_over). A fresh cluster per trial; the median of the trials is printed.
import fs from 'node:fs/promises';
import path from 'node:path';
import { SCALE, figure, note, rmrf, sleep } from './common';
import { startWarmCluster, stopCluster, createJob, waitJob, mirrored, filesJob, isoMs, type Cluster } from './tandem';

const WINDOW_SEC = 5;
const monitor = { mode: 'time', failoverTimeSec: WINDOW_SEC, intervalSec: 1, method: 'service' };

interface Trial {
  total: number;
  detection: number;
  decision: number;
  takeover: number;
  reporting: number;
}

async function trial(work: string, n: number): Promise<Trial> {
  let c: Cluster | undefined;
  try {
    const src = path.join(work, `src-${n}`);
    const dst = path.join(work, `dst-${n}`);
    await fs.mkdir(src);
    await fs.mkdir(dst);
    await fs.writeFile(path.join(src, 'data.txt'), 'production data');
    c = await startWarmCluster(work);
    const id = await createJob(c, filesJob(`bench-rto-${n}`, src, dst, { failoverMonitor: monitor, failover: { waitForUser: false } }));
    await waitJob(c, 'protecting', id, mirrored, 120_000);
    // Steady state: the target's monitor has been probing the source successfully for a few intervals.
    await waitJob(c, 'monitor probing', id, (j) => (j.failover?.monitor?.probes ?? 0) >= 3 && j.failover.monitor.lastOk, 60_000);
    await sleep(1000);

    const killedAt = Date.now();
    await c.source.stop('SIGKILL');
    const seen: Record<string, number> = {};
    const done = await waitJob(c, 'failed over', id, (j) => {
      seen[j.state] ??= Date.now();
      return j.state === 'failed_over' && j.failover?.progress?.status === 'done';
    }, 120_000, 50);
    const events = (await c.api('GET', `/v1/events?job=${id}&limit=500`)).body.items as Array<{ type: string; firstAt: string }>;
    const eventAt = (type: string) => isoMs(events.find((e) => e.type === type)?.firstAt);
    const conditionAt = eventAt('job.failover_condition_met') || seen.failover_condition_met || seen.failing_over;
    const progress = done.job.failover.progress;
    note(`trial ${n + 1}: states first seen ${Object.entries(seen).map(([s, t]) => `${s}@+${t - killedAt}ms`).join(' ')}; failover.started @+${eventAt('failover.started') - killedAt}ms`);
    return {
      total: (done.at - killedAt) / 1000,
      detection: (conditionAt - killedAt) / 1000,
      decision: (progress.startedAt - conditionAt) / 1000,
      takeover: (progress.completedAt - progress.startedAt) / 1000,
      reporting: (done.at - progress.completedAt) / 1000,
    };
  } finally {
    if (c) await stopCluster(c);
  }
}

export async function benchRto(): Promise<void> {
  const trials = SCALE >= 0.5 ? 3 : 1;
  figure('rto.monitor_window_seconds', WINDOW_SEC);
  figure('rto.trials', trials);
  const work = await fs.mkdtemp('/tmp/tandem-bench-rto-');
  try {
    const results: Trial[] = [];
    for (let n = 0; n < trials; n++) results.push(await trial(work, n));
    const median = (k: keyof Trial) => results.map((r) => r[k]).sort((a, b) => a - b)[Math.floor(results.length / 2)]!;
    figure('rto.seconds', median('total'));
    figure('rto.detection_seconds', median('detection'));
    figure('rto.decision_seconds', median('decision'));
    figure('rto.takeover_seconds', median('takeover'), 3);
    figure('rto.reporting_seconds', median('reporting'));
    figure('rto.max_seconds', Math.max(...results.map((r) => r.total)));
  } finally {
    await rmrf(work);
  }
}
