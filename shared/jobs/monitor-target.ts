// Which source addresses a job's failover monitor probes: the configured ones, else the source server's own.
import type { FailoverMonitor } from './failover-settings';

export function effectiveMonitor(monitor: FailoverMonitor, sourceAddresses: readonly string[]): FailoverMonitor {
  if (monitor.addresses.length) return monitor;
  return { ...monitor, addresses: sourceAddresses.slice(0, 1) };
}
