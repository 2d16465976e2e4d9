// The "services" part of the failover monitor, run by the source agent: checks each monitored systemd unit every
// interval, restarts it once per failure when asked (a failed restart counts as a failure), and reports the results.
import type { FailoverMonitor } from '../../shared/jobs/failover-settings';
import { serviceActive, restartService, type RunCommand } from '../failover';
import { Periodic } from '../periodic';

export interface ServiceProbe {
  at: number;
  method: 'services';
  target: string;
  ok: boolean;
}

export class ServiceMonitor {
  private probes: ServiceProbe[] = [];
  private readonly loop = new Periodic(async () => { await this.checkOnce(); }, () => Math.max(1000, this.monitor.intervalSec * 1000));

  constructor(private monitor: FailoverMonitor, private opts: { runCommand?: RunCommand; onChange?: () => void } = {}) {}

  update(monitor: FailoverMonitor): void {
    this.monitor = monitor;
  }

  start(): void {
    if (this.monitor.services.length) this.loop.start();
  }

  stop(): void {
    this.loop.stop();
  }

  /** One round of checks (exported for tests and used by the timer). */
  async checkOnce(): Promise<ServiceProbe[]> {
    const at = Date.now();
    const results: ServiceProbe[] = [];
    for (const svc of this.monitor.services) {
      let ok = (await serviceActive(svc.name, { runCommand: this.opts.runCommand })).active;
      if (!ok && svc.restart) {
        const r = await restartService(svc.name, { runCommand: this.opts.runCommand, timeoutMs: 60_000 });
        ok = r.ok && (await serviceActive(svc.name, { runCommand: this.opts.runCommand })).active;
      }
      results.push({ at, method: 'services', target: svc.name, ok });
    }
    this.probes.push(...results);
    const cutoff = Date.now() - Math.max(this.monitor.failoverTimeSec * 2000, 120_000);
    while (this.probes.length && (this.probes[0]!.at < cutoff || this.probes.length > 1000)) this.probes.shift();
    if (results.some((r) => !r.ok)) this.opts.onChange?.();
    return results;
  }

  recent(): ServiceProbe[] {
    return [...this.probes];
  }
}
