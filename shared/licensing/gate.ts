// What a licence problem may stop: new protection only. Recovering data (failover, restore, failback) and protection
// already running are never blocked by licensing; the operation lists are data so the rule is visible in one place.
import { usable, type LicenceStatus } from './lifecycle';

export const PROTECTION_OPERATIONS = ['create_job', 'start_job', 'start_mirror'] as const;
export const RECOVERY_OPERATIONS = ['failover', 'restore', 'failback', 'stop_job', 'delete_job'] as const;
export type Operation = (typeof PROTECTION_OPERATIONS)[number] | (typeof RECOVERY_OPERATIONS)[number];

/** Why the operation is refused, or null when the licence (or its absence) does not matter for it. */
export function licenceRefusal(op: Operation, status: LicenceStatus | null): { code: string; message: string } | null {
  if ((RECOVERY_OPERATIONS as readonly string[]).includes(op)) return null;
  if (!status) return { code: 'licence_missing', message: 'This server has no licence; add and apply a code to start protection.' };
  return usable(status) ? null : { code: status.code, message: status.message };
}
