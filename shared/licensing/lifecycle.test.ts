import { describe, it, expect } from 'vitest';
import { planApply, planActivation, licenceStatus, dueExpiryWarning, transition, type LicenceFacts, type AssignmentFacts } from './lifecycle';
import { licenceRefusal } from './gate';
import { DAY_MS } from './model';

const T0 = Date.UTC(2030, 0, 1);
const single = (over: Partial<LicenceFacts> = {}): LicenceFacts => ({ serial: 'TL-1', type: 'single', requiresActivation: true, expiresAt: null, hostTransfersUsed: 0, ...over });
const asg = (over: Partial<AssignmentFacts> = {}): AssignmentFacts => ({
  id: 'a1', serverId: 's1', state: 'applied', appliedAt: T0, activationDeadline: T0 + 14 * DAY_MS, activatedAt: null, host: null, ...over,
});
function errCode(fn: () => unknown) {
  try { fn(); } catch (e) { return (e as { code?: string }).code; }
  return undefined;
}

describe('licence state machine', () => {
  it('moves applied → activated → deactivated and refuses anything else', () => {
    expect(transition(null, 'apply')).toBe('applied');
    expect(transition('applied', 'activate')).toBe('activated');
    expect(transition('activated', 'deactivate')).toBe('deactivated');
    expect(errCode(() => transition('deactivated', 'activate'))).toBe('licence_bad_transition');
    expect(errCode(() => transition('activated', 'reclaim'))).toBe('licence_reclaim_activated');
  });

  it('applying a single licence starts a 14-day activation window; a second server is refused', () => {
    const plan = planApply(single(), [], 's1', T0);
    expect(plan).toEqual({ kind: 'new', appliedAt: T0, activationDeadline: T0 + 14 * DAY_MS });
    expect(planApply(single(), [asg()], 's1', T0)).toEqual({ kind: 'existing', assignmentId: 'a1' });
    expect(errCode(() => planApply(single(), [asg()], 's2', T0))).toBe('licence_in_use');
    expect(errCode(() => planApply(single(), [asg({ state: 'activated', host: 'h1' })], 's2', T0))).toBe('host_transfer_required');
    expect(planApply(single({ type: 'evaluation', requiresActivation: false }), [asg()], 's2', T0)).toMatchObject({ kind: 'new', activationDeadline: null });
  });

  it('warns with the days left in the activation window, then errors once it has passed (injected clock)', () => {
    const a = asg();
    expect(licenceStatus(single(), a, T0 + 3 * DAY_MS)).toMatchObject({ health: 'warning', code: 'licence_not_activated', daysLeft: 11 });
    expect(licenceStatus(single(), a, T0 + 14 * DAY_MS - 1)).toMatchObject({ health: 'warning', daysLeft: 1 });
    expect(licenceStatus(single(), a, T0 + 14 * DAY_MS)).toMatchObject({ health: 'error', code: 'licence_activation_overdue' });
    expect(licenceStatus(single(), asg({ state: 'activated', host: 'h1' }), T0 + 100 * DAY_MS, 'h1')).toMatchObject({ health: 'ok' });
  });

  it('an evaluation code needs no activation and expires at its built-in date', () => {
    const ev = single({ type: 'evaluation', requiresActivation: false, expiresAt: T0 + 60 * DAY_MS });
    expect(licenceStatus(ev, asg({ activationDeadline: null }), T0)).toMatchObject({ health: 'ok' });
    expect(licenceStatus(ev, asg(), T0 + 45 * DAY_MS)).toMatchObject({ health: 'warning', code: 'licence_expiring', daysLeft: 15 });
    expect(licenceStatus(ev, asg(), T0 + 60 * DAY_MS)).toMatchObject({ health: 'error', code: 'licence_expired' });
    expect(errCode(() => planApply(ev, [], 's9', T0 + 61 * DAY_MS))).toBe('licence_expired');
    expect(errCode(() => planActivation(ev, [], { serverId: 's9', host: 'h' }, T0 + 61 * DAY_MS))).toBe('licence_expired');
  });

  it('activation on another host needs a transfer: two are allowed, the third is refused', () => {
    const on = (host: string) => [asg({ state: 'activated', host, activatedAt: T0 })];
    expect(errCode(() => planActivation(single(), on('h1'), { serverId: 's2', host: 'h2' }, T0))).toBe('host_transfer_required');
    expect(planActivation(single(), on('h1'), { serverId: 's2', host: 'h2' }, T0, { transfer: true })).toMatchObject({ kind: 'transfer', fromAssignmentId: 'a1', transfersUsed: 1 });
    expect(planActivation(single({ hostTransfersUsed: 1 }), on('h1'), { serverId: 's2', host: 'h2' }, T0, { transfer: true })).toMatchObject({ transfersUsed: 2 });
    expect(errCode(() => planActivation(single({ hostTransfersUsed: 2 }), on('h1'), { serverId: 's2', host: 'h2' }, T0, { transfer: true }))).toBe('licence_transfer_limit');
    // Re-activating on the same host is idempotent; after a deactivation the licence moves freely (unlimited).
    expect(planActivation(single(), on('h1'), { serverId: 's1', host: 'h1' }, T0)).toEqual({ kind: 'already', assignmentId: 'a1' });
    expect(planActivation(single({ hostTransfersUsed: 2 }), [asg({ state: 'deactivated', host: 'h1' })], { serverId: 's2', host: 'h2' }, T0)).toEqual({ kind: 'activate', assignmentId: null });
  });

  it('a renamed host reports a host mismatch, and an invalid licence once transfers are used up', () => {
    const a = asg({ state: 'activated', host: 'h1' });
    expect(licenceStatus(single(), a, T0, 'h1-renamed')).toMatchObject({ health: 'error', code: 'licence_host_mismatch' });
    expect(licenceStatus(single({ hostTransfersUsed: 2 }), a, T0, 'h1-renamed')).toMatchObject({ health: 'error', code: 'licence_invalid' });
  });

  it('expiry warnings fire once each at 30, 7 and 1 days, skipping thresholds missed while down', () => {
    const exp = T0 + 40 * DAY_MS;
    expect(dueExpiryWarning(exp, T0, [])).toEqual({ raise: null, sent: [] });
    const w30 = dueExpiryWarning(exp, exp - 30 * DAY_MS, []);
    expect(w30).toEqual({ raise: 30, sent: [30] });
    expect(dueExpiryWarning(exp, exp - 20 * DAY_MS, w30.sent).raise).toBeNull();
    expect(dueExpiryWarning(exp, exp - 5 * DAY_MS, w30.sent)).toEqual({ raise: 7, sent: [30, 7] });
    expect(dueExpiryWarning(exp, exp - DAY_MS / 2, [])).toEqual({ raise: 1, sent: [30, 7, 1] });
    expect(dueExpiryWarning(exp, exp + 1, []).raise).toBeNull();
  });

  it('a licence problem refuses new protection but never failover, restore or failback', () => {
    const expired = licenceStatus(single({ expiresAt: T0 }), asg(), T0 + 1);
    expect(licenceRefusal('create_job', expired)).toMatchObject({ code: 'licence_expired' });
    expect(licenceRefusal('create_job', null)).toMatchObject({ code: 'licence_missing' });
    for (const op of ['failover', 'restore', 'failback'] as const) {
      expect(licenceRefusal(op, expired)).toBeNull();
      expect(licenceRefusal(op, null)).toBeNull();
    }
  });
});
