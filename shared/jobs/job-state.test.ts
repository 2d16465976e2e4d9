import { describe, expect, it } from 'vitest';
import { TandemError } from '../errors';
import {
  JOB_ACTIVITY,
  JOB_TRANSITIONS,
  JobCommand,
  JobState,
  RESUME_STATE,
  applyJobCommand,
  legalCommands,
  requireJobCommand,
  type JobCommandResult,
} from './job-state';

type Ok = Extract<JobCommandResult, { ok: true }>;

function run(start: JobState, commands: JobCommand[], options = { reverseSupported: true }) {
  let state = start;
  let epochBumps = 0;
  let resumeState: JobState | undefined;
  const activities: string[] = [];
  for (const command of commands) {
    const r = applyJobCommand(state, command, { ...options, resumeState });
    if (!r.ok) throw new Error(`${state} --${command}--> refused: ${r.reason}`);
    state = r.next;
    if (r.bumpEpoch) epochBumps++;
    if (r.resumeState) resumeState = r.resumeState;
    activities.push(r.activity);
  }
  return { state, epochBumps, activities };
}

describe('transition table', () => {
  it('has at most one row per (state, command)', () => {
    const keys = JOB_TRANSITIONS.map(([from, command]) => `${from}:${command}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('reaches every state from stopped and gives each one an activity text', () => {
    const reached = new Set<string>(['stopped']);
    for (const [, , to] of JOB_TRANSITIONS) reached.add(to === RESUME_STATE ? 'stopped' : to);
    expect([...reached].sort()).toEqual([...JobState.options].sort());
    for (const state of JobState.options) expect(JOB_ACTIVITY[state]).toMatch(/\S/);
  });

  it('uses the manual wording for the activity column', () => {
    expect(JOB_ACTIVITY.failover_condition_met).toBe('Failover Condition Met');
    expect(JOB_ACTIVITY.restoring).toBe('Restoring');
    expect(JOB_ACTIVITY.restoring_after_failback).toBe('Restoring');
    expect(JOB_ACTIVITY.restored).toBe('Restored');
    expect(JOB_ACTIVITY.restore_required).toBe('Restore Required');
    expect(JOB_ACTIVITY.mirror_required).toBe('Mirror Required');
  });

  it('bumps the epoch on exactly the failover, restore, failback and reverse commands', () => {
    for (const [from, command, , bump] of JOB_TRANSITIONS) {
      const ownershipChange = ['failover', 'restore', 'failback', 'reverse'].includes(command);
      expect(bump, `${from} --${command}`).toBe(ownershipChange);
    }
  });
});

describe('applyJobCommand: every legal transition', () => {
  for (const [from, command, to, bump] of JOB_TRANSITIONS) {
    it(`${from} --${command}--> ${to}${bump ? ' (epoch+1)' : ''}`, () => {
      const r = applyJobCommand(from, command, { reverseSupported: true, resumeState: 'paused' });
      expect(r.ok).toBe(true);
      const ok = r as Ok;
      expect(ok.next).toBe(to === RESUME_STATE ? 'paused' : to);
      expect(ok.bumpEpoch).toBe(bump);
      expect(ok.activity).toBe(JOB_ACTIVITY[ok.next]);
    });
  }
});

describe('applyJobCommand: the full state × command matrix', () => {
  it('refuses every pair not in the table with a code and a readable reason', () => {
    const legal = new Set(JOB_TRANSITIONS.map(([from, command]) => `${from}:${command}`));
    let refused = 0;
    for (const state of JobState.options) {
      for (const command of JobCommand.options) {
        const r = applyJobCommand(state, command, { reverseSupported: true });
        if (legal.has(`${state}:${command}`)) {
          expect(r.ok, `${state}:${command}`).toBe(true);
          continue;
        }
        refused++;
        expect(r.ok, `${state}:${command}`).toBe(false);
        if (r.ok) continue;
        expect(r.code).toBe('illegal_job_transition');
        expect(r.reason.trim().length).toBeGreaterThan(20);
        expect(r.reason).toContain(command.replaceAll('_', ' '));
      }
    }
    expect(refused).toBeGreaterThan(300);
  });

  it('legalCommands lists exactly the accepted commands', () => {
    for (const state of JobState.options) {
      const accepted = JobCommand.options.filter((c) => applyJobCommand(state, c, { reverseSupported: true }).ok);
      expect(legalCommands(state, { reverseSupported: true })).toEqual(accepted);
    }
  });

  it('explains a failback attempted while protecting', () => {
    const r = applyJobCommand('protecting', 'failback');
    expect(r).toEqual({
      ok: false,
      code: 'illegal_job_transition',
      reason: 'failback is only possible after a failover; the job is protecting.',
    });
  });

  it('tells the operator the next step when a command comes too early', () => {
    const r = applyJobCommand('mirror_required', 'start');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/Stop the job, then start it/);
  });

  it('refuses stop after a failover, so a start cannot remirror stale source data over the target', () => {
    expect(applyJobCommand('failed_over', 'stop').ok).toBe(false);
  });
});

describe('reverse', () => {
  it('is refused for files and folders jobs by default', () => {
    const r = applyJobCommand('failed_over', 'reverse');
    expect(r).toMatchObject({ ok: false, code: 'not_supported_for_job_type' });
    expect(legalCommands('failed_over')).not.toContain('reverse');
  });

  it('swaps roles and mirrors back when the job type supports it', () => {
    const { state, epochBumps } = run('failed_over', ['reverse', 'reverse_done']);
    expect(state).toBe('mirroring');
    expect(epochBumps).toBe(1);
  });
});

describe('lifecycles from the manual', () => {
  it('start, mirror, protect, pause, resume', () => {
    const { state, activities } = run('stopped', ['start', 'mirror_started', 'mirror_complete', 'pause', 'resume', 'mirror_complete']);
    expect(state).toBe('protecting');
    expect(activities).toEqual(['Starting', 'Mirroring', 'Protecting', 'Paused', 'Starting', 'Protecting']);
  });

  it('restore then failback: Restoring → Restored → failback → Mirror Required → stop + start protects', () => {
    const { state, epochBumps, activities } = run('protecting', [
      'condition_met', 'failover', 'failover_done',
      'restore', 'restore_done', 'failback', 'failback_done',
      'stop', 'start', 'mirror_started', 'mirror_complete',
    ]);
    expect(activities.slice(0, 7)).toEqual([
      'Failover Condition Met', 'Failing Over', 'Failed Over', 'Restoring', 'Restored', 'Failing Back', 'Mirror Required',
    ]);
    expect(state).toBe('protecting');
    expect(epochBumps).toBe(3);
  });

  it('failback then restore: Restore Required → restore → Mirror Required', () => {
    const { state, epochBumps, activities } = run('protecting', [
      'failover', 'failover_done', 'failback', 'failback_done', 'restore', 'restore_done',
    ]);
    expect(activities).toEqual(['Failing Over', 'Failed Over', 'Failing Back', 'Restore Required', 'Restoring', 'Mirror Required']);
    expect(state).toBe('mirror_required');
    expect(epochBumps).toBe(3);
  });

  it('failback then "do not restore data" also ends at Mirror Required without an extra epoch', () => {
    const { state, epochBumps } = run('protecting', ['failover', 'failover_done', 'failback', 'failback_done', 'skip_restore']);
    expect(state).toBe('mirror_required');
    expect(epochBumps).toBe(2);
  });

  it('a failed step returns to where the operator can retry it', () => {
    expect(run('failed_over', ['restore', 'restore_failed']).state).toBe('failed_over');
    expect(run('failed_over', ['failback', 'failback_failed']).state).toBe('failed_over');
    expect(run('restored', ['failback', 'failback_failed']).state).toBe('restored');
    expect(run('restore_required', ['restore', 'restore_failed']).state).toBe('restore_required');
    const failed = run('protecting', ['failover', 'failover_failed']);
    expect(failed.state).toBe('error');
    expect(legalCommands('error')).toContain('failover');
  });
});

describe('failover condition met and cleared', () => {
  it.each([
    ['protecting', 'starting'],
    ['mirroring', 'starting'],
    ['starting', 'starting'],
    ['paused', 'paused'],
    ['stopped', 'stopped'],
    ['error', 'error'],
  ] as const)('a job that was %s returns to %s when the source answers again', (before, after) => {
    const met = applyJobCommand(before, 'condition_met') as Ok;
    expect(met.next).toBe('failover_condition_met');
    expect(met.resumeState).toBe(after);
    const cleared = applyJobCommand('failover_condition_met', 'condition_cleared', { resumeState: met.resumeState });
    expect(cleared).toMatchObject({ ok: true, next: after, bumpEpoch: false });
  });

  it('falls back to stopped when the resume state was not kept', () => {
    expect(applyJobCommand('failover_condition_met', 'condition_cleared')).toMatchObject({ ok: true, next: 'stopped' });
  });
});

describe('requireJobCommand', () => {
  it('throws a 409 TandemError with the reason', () => {
    expect(() => requireJobCommand('protecting', 'restore')).toThrowError(TandemError);
    try {
      requireJobCommand('protecting', 'restore');
    } catch (e) {
      expect((e as TandemError).status).toBe(409);
      expect((e as TandemError).code).toBe('illegal_job_transition');
    }
    expect(requireJobCommand('failed_over', 'restore').next).toBe('restoring');
  });
});
