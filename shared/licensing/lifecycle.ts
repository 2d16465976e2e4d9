// The licence state machine, written down as a table of transitions plus pure planning functions over plain data.
// The hub reads and writes rows; these functions decide. applied → activated → deactivated, transfers ≤ 2,
// evaluation expiry, the 14-day activation window. Time is always passed in (injected clock).
import { TandemError } from '../errors';
import {
  ACTIVATION_WINDOW_DAYS, DAY_MS, EXPIRY_WARNING_DAYS, LICENCE_TYPES, MAX_HOST_TRANSFERS,
  type AssignmentState, type LicenceType,
} from './model';

export type LifecycleEvent = 'apply' | 'activate' | 'transfer_in' | 'transfer_out' | 'deactivate' | 'reclaim';

/** Every legal move of one assignment (licence ↔ server). Anything not listed is refused. */
export const TRANSITIONS: ReadonlyArray<{ from: AssignmentState | null; event: LifecycleEvent; to: AssignmentState }> = [
  { from: null, event: 'apply', to: 'applied' },
  { from: 'applied', event: 'activate', to: 'activated' },
  { from: null, event: 'activate', to: 'activated' }, // online / key / file activation applies and activates in one step
  { from: null, event: 'transfer_in', to: 'activated' },
  { from: 'applied', event: 'transfer_in', to: 'activated' },
  { from: 'activated', event: 'transfer_out', to: 'deactivated' },
  { from: 'activated', event: 'deactivate', to: 'deactivated' }, // managed uninstall: unlimited
  { from: 'applied', event: 'deactivate', to: 'deactivated' },
  { from: 'applied', event: 'reclaim', to: 'deactivated' }, // single licence back to the pool, never an activated one
];

export function transition(from: AssignmentState | null, event: LifecycleEvent): AssignmentState {
  const t = TRANSITIONS.find((x) => x.from === from && x.event === event);
  if (!t) {
    const hint = event === 'reclaim' && from === 'activated'
      ? 'An activated licence cannot be reclaimed; deactivate it (managed uninstall) to move it to another server.'
      : `A licence that is ${from ?? 'not on this server'} cannot be ${event}d.`;
    throw new TandemError(event === 'reclaim' ? 'licence_reclaim_activated' : 'licence_bad_transition', hint, 409);
  }
  return t.to;
}

export interface LicenceFacts {
  serial: string;
  type: LicenceType;
  requiresActivation: boolean;
  expiresAt: number | null;
  hostTransfersUsed: number;
}

export interface AssignmentFacts {
  id: string;
  serverId: string | null;
  serverName?: string | null;
  state: AssignmentState;
  appliedAt: number;
  activationDeadline: number | null;
  activatedAt: number | null;
  /** Host fingerprint the activation is bound to. */
  host: string | null;
}

const live = (a: AssignmentFacts) => a.state !== 'deactivated';
const daysLeft = (until: number, now: number) => Math.max(0, Math.ceil((until - now) / DAY_MS));

function refuseExpired(lic: LicenceFacts, now: number) {
  if (lic.expiresAt != null && now >= lic.expiresAt) {
    throw new TandemError('licence_expired', `Licence ${lic.serial} expired on ${new Date(lic.expiresAt).toISOString().slice(0, 10)}. Ask your vendor for a new code.`, 409);
  }
}

function refuseSeats(lic: LicenceFacts) {
  if (LICENCE_TYPES[lic.type].seats) {
    throw new TandemError('licence_not_for_servers', `Licence ${lic.serial} is a job-seat pool: jobs take seats from it, it is not applied to servers.`, 409);
  }
}

export type ApplyPlan = { kind: 'existing'; assignmentId: string } | { kind: 'new'; appliedAt: number; activationDeadline: number | null };

/** Applying a code to a server (no activation yet). */
export function planApply(lic: LicenceFacts, assignments: AssignmentFacts[], serverId: string, now: number): ApplyPlan {
  refuseSeats(lic);
  refuseExpired(lic, now);
  const mine = assignments.find((a) => live(a) && a.serverId === serverId);
  if (mine) return { kind: 'existing', assignmentId: mine.id };
  const max = LICENCE_TYPES[lic.type].maxServers;
  const others = assignments.filter(live);
  if (max != null && others.length >= max) {
    const o = others[0]!;
    if (o.state === 'activated') {
      throw new TandemError('host_transfer_required', `Licence ${lic.serial} is activated on ${o.serverName ?? o.host}. Deactivate it there first, or activate it here with a host transfer (${MAX_HOST_TRANSFERS - lic.hostTransfersUsed} left).`, 409, { assignment: o.id });
    }
    throw new TandemError('licence_in_use', `Licence ${lic.serial} is applied to ${o.serverName ?? 'another server'}. Reclaim it there first.`, 409, { assignment: o.id });
  }
  return { kind: 'new', appliedAt: now, activationDeadline: lic.requiresActivation ? now + ACTIVATION_WINDOW_DAYS * DAY_MS : null };
}

export type ActivationPlan =
  | { kind: 'already'; assignmentId: string }
  | { kind: 'activate'; assignmentId: string | null }
  | { kind: 'transfer'; fromAssignmentId: string; assignmentId: string | null; transfersUsed: number };

/**
 * Activating a code for a host (online, by key or by file). A code activated on another host needs a host transfer:
 * refused with `host_transfer_required` unless the caller asked for one; a third transfer is `licence_transfer_limit`.
 */
export function planActivation(
  lic: LicenceFacts, assignments: AssignmentFacts[],
  target: { serverId: string | null; host: string }, now: number, opts: { transfer?: boolean } = {},
): ActivationPlan {
  refuseSeats(lic);
  refuseExpired(lic, now);
  const active = assignments.filter(live);
  const sameHost = active.find((a) => a.state === 'activated' && a.host === target.host);
  if (sameHost) return { kind: 'already', assignmentId: sameHost.id };
  const onServer = target.serverId ? active.find((a) => a.serverId === target.serverId) : undefined;
  const max = LICENCE_TYPES[lic.type].maxServers;
  if (max == null) return { kind: 'activate', assignmentId: onServer?.id ?? null };

  const elsewhere = active.filter((a) => a !== onServer);
  const activatedElsewhere = elsewhere.find((a) => a.state === 'activated');
  // The server's own activation bound to an older identity (host renamed or rebuilt) is also a host change.
  const stale = onServer?.state === 'activated' ? onServer : undefined;
  const from = activatedElsewhere ?? stale;
  if (from) {
    if (!opts.transfer) {
      throw new TandemError('host_transfer_required', `Licence ${lic.serial} is already activated on ${from.serverName ?? `host ${from.host}`}. Deactivate it there (managed uninstall), or confirm a host transfer (${Math.max(0, MAX_HOST_TRANSFERS - lic.hostTransfersUsed)} of ${MAX_HOST_TRANSFERS} left).`, 409, { assignment: from.id, transfersLeft: Math.max(0, MAX_HOST_TRANSFERS - lic.hostTransfersUsed) });
    }
    if (lic.hostTransfersUsed >= MAX_HOST_TRANSFERS) {
      throw new TandemError('licence_transfer_limit', `Licence ${lic.serial} has used both of its ${MAX_HOST_TRANSFERS} host transfers; it can only move by deactivation on its current host.`, 409);
    }
    return { kind: 'transfer', fromAssignmentId: from.id, assignmentId: onServer && onServer !== from ? onServer.id : null, transfersUsed: lic.hostTransfersUsed + 1 };
  }
  const appliedElsewhere = elsewhere.find((a) => a.state === 'applied');
  if (appliedElsewhere && max <= active.length - (onServer ? 1 : 0)) {
    throw new TandemError('licence_in_use', `Licence ${lic.serial} is applied to ${appliedElsewhere.serverName ?? 'another server'} and not activated there. Reclaim it first.`, 409);
  }
  return { kind: 'activate', assignmentId: onServer?.id ?? null };
}

export type Health = 'ok' | 'warning' | 'error';
export interface LicenceStatus { health: Health; code: string; message: string; daysLeft: number | null }

/**
 * One inventory row's status: error = expired, activation overdue, host mismatch or invalid; warning = not activated
 * (N days left) or expiring within 30 days. `currentHost` is the host fingerprint the server reports now.
 */
export function licenceStatus(lic: LicenceFacts, a: AssignmentFacts | null, now: number, currentHost?: string | null): LicenceStatus {
  if (lic.expiresAt != null && now >= lic.expiresAt) {
    return { health: 'error', code: 'licence_expired', message: `Expired on ${new Date(lic.expiresAt).toISOString().slice(0, 10)}.`, daysLeft: 0 };
  }
  if (a && a.state === 'activated' && a.host && currentHost && a.host !== currentHost) {
    return lic.hostTransfersUsed >= MAX_HOST_TRANSFERS
      ? { health: 'error', code: 'licence_invalid', message: 'Host identity changed and no host transfers are left: the licence is invalid here. Deactivate it.', daysLeft: null }
      : { health: 'error', code: 'licence_host_mismatch', message: 'Licence host mismatch: this server\'s identity changed since activation. Deactivate or transfer the licence.', daysLeft: null };
  }
  if (a && a.state === 'applied' && lic.requiresActivation) {
    const deadline = a.activationDeadline ?? a.appliedAt + ACTIVATION_WINDOW_DAYS * DAY_MS;
    if (now >= deadline) {
      return { health: 'error', code: 'licence_activation_overdue', message: `Not activated within ${ACTIVATION_WINDOW_DAYS} days; activate it to run jobs.`, daysLeft: 0 };
    }
    const d = daysLeft(deadline, now);
    return { health: 'warning', code: 'licence_not_activated', message: `Not activated: ${d} day${d === 1 ? '' : 's'} left to activate.`, daysLeft: d };
  }
  if (lic.expiresAt != null && lic.expiresAt - now <= EXPIRY_WARNING_DAYS[0] * DAY_MS) {
    const d = daysLeft(lic.expiresAt, now);
    return { health: 'warning', code: 'licence_expiring', message: `Expires in ${d} day${d === 1 ? '' : 's'}.`, daysLeft: d };
  }
  if (!a) return { health: 'ok', code: 'licence_available', message: 'In the inventory, not applied to a server.', daysLeft: null };
  return { health: 'ok', code: 'licence_ok', message: a.state === 'activated' ? 'Activated.' : 'Applied.', daysLeft: null };
}

/** Licence states that let a server start new protection. Recovery (failover, restore, failback) never asks. */
export const usable = (s: LicenceStatus) => s.health !== 'error';

/**
 * Which expiry warning to raise now: the smallest threshold (30, 7, 1 days) already reached and not yet raised.
 * Thresholds skipped while the hub was down are marked as sent without a second event.
 */
export function dueExpiryWarning(expiresAt: number | null, now: number, sent: readonly number[]): { raise: number | null; sent: number[] } {
  if (expiresAt == null || now >= expiresAt) return { raise: null, sent: [...sent] };
  const reached = EXPIRY_WARNING_DAYS.filter((d) => expiresAt - now <= d * DAY_MS);
  const fresh = reached.filter((d) => !sent.includes(d));
  if (!fresh.length) return { raise: null, sent: [...sent] };
  return { raise: Math.min(...fresh), sent: [...new Set([...sent, ...reached])].sort((x, y) => y - x) };
}
