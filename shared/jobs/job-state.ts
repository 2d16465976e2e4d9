// The files-job lifecycle written down as a table of transitions (pg_auto_failover style):
// the hub looks a (state, command) pair up here and acts on the answer; nothing else decides legality.
import { z } from 'zod';
import { conflict, type TandemError } from '../errors';
import { JobState } from '../states';

export { JobState };

/** Operator commands (start, failover, restore…) and agent-reported events (mirror_complete, failover_done…). */
export const JobCommand = z.enum([
  // operator
  'start', 'stop', 'pause', 'resume',
  'failover', 'restore', 'skip_restore', 'failback', 'reverse',
  // agents / decision engine
  'mirror_started', 'mirror_complete', 'queue_exhausted', 'fault',
  'condition_met', 'condition_cleared',
  'failover_done', 'failover_failed',
  'restore_done', 'restore_failed',
  'failback_done', 'failback_failed',
  'reverse_done', 'reverse_failed',
]);
export type JobCommand = z.infer<typeof JobCommand>;

/** Marks the one transition whose target is "wherever the job was before the failover condition was met". */
export const RESUME_STATE = 'resume_state' as const;

/** States in which the agents run the job's data plane (mirror and replication from source to target). */
export const RUNNING_STATES: ReadonlySet<string> = new Set<JobState>(['starting', 'mirroring', 'protecting', 'paused', 'failover_condition_met']);
/** States in which a restore's reverse job sends the replica back to the source. */
export const RESTORING_STATES: ReadonlySet<string> = new Set<JobState>(['restoring', 'restoring_after_failback']);

type TransitionRow = readonly [from: JobState, command: JobCommand, to: JobState | typeof RESUME_STATE, bumpEpoch: boolean];

/**
 * Every legal transition. bumpEpoch = true wherever the host that owns the data changes
 * (each failover, restore, failback and reverse): frames carrying an older epoch are then refused.
 * The epoch is bumped when the step *starts*, so the old owner is fenced before the new one writes.
 *
 * Two orders after a failover (manual 2.29):
 *   restore first:  failed_over → restoring → restored → failing_back_after_restore → mirror_required
 *   failback first: failed_over → failing_back → restore_required → (restore → restoring_after_failback |
 *                   skip_restore) → mirror_required
 * mirror_required is left only by stop; the following start remirrors and protects again.
 */
export const JOB_TRANSITIONS: readonly TransitionRow[] = [
  // from                          command               to                             epoch
  ['stopped',                      'start',              'starting',                    false],
  ['stopped',                      'condition_met',      'failover_condition_met',      false], // monitoring continues while stopped
  ['stopped',                      'failover',           'failing_over',                true],

  ['starting',                     'mirror_started',     'mirroring',                   false],
  ['starting',                     'mirror_complete',    'protecting',                  false], // nothing to mirror: replicating
  ['starting',                     'queue_exhausted',    'starting',                    false],
  ['starting',                     'pause',              'paused',                      false],
  ['starting',                     'stop',               'stopped',                     false],
  ['starting',                     'condition_met',      'failover_condition_met',      false],
  ['starting',                     'failover',           'failing_over',                true],
  ['starting',                     'fault',              'error',                       false],

  ['mirroring',                    'mirror_complete',    'protecting',                  false],
  ['mirroring',                    'queue_exhausted',    'mirroring',                   false], // the mirror restarts
  ['mirroring',                    'pause',              'paused',                      false],
  ['mirroring',                    'stop',               'stopped',                     false],
  ['mirroring',                    'condition_met',      'failover_condition_met',      false],
  ['mirroring',                    'failover',           'failing_over',                true],
  ['mirroring',                    'fault',              'error',                       false],

  ['protecting',                   'mirror_started',     'mirroring',                   false], // manual or verify-driven remirror
  ['protecting',                   'queue_exhausted',    'mirroring',                   false], // source queue overflowed: remirror
  ['protecting',                   'pause',              'paused',                      false],
  ['protecting',                   'stop',               'stopped',                     false],
  ['protecting',                   'condition_met',      'failover_condition_met',      false],
  ['protecting',                   'failover',           'failing_over',                true],
  ['protecting',                   'fault',              'error',                       false],

  ['paused',                       'resume',             'starting',                    false], // agents report whether a mirror is needed
  ['paused',                       'start',              'starting',                    false], // "Start: starts or resumes"
  ['paused',                       'queue_exhausted',    'paused',                      false], // resume will remirror
  ['paused',                       'stop',               'stopped',                     false],
  ['paused',                       'condition_met',      'failover_condition_met',      false], // monitoring continues while paused
  ['paused',                       'failover',           'failing_over',                true],
  ['paused',                       'fault',              'error',                       false],

  ['failover_condition_met',       'failover',           'failing_over',                true],
  ['failover_condition_met',       'condition_cleared',  RESUME_STATE,                  false],
  ['failover_condition_met',       'stop',               'stopped',                     false],

  ['failing_over',                 'failover_done',      'failed_over',                 false],
  ['failing_over',                 'failover_failed',    'error',                       false],

  ['failed_over',                  'restore',            'restoring',                   true],  // restore first
  ['failed_over',                  'failback',           'failing_back',                true],  // failback first
  ['failed_over',                  'reverse',            'reversing',                   true],

  ['restoring',                    'restore_done',       'restored',                    false],
  ['restoring',                    'restore_failed',     'failed_over',                 false],
  ['restored',                     'failback',           'failing_back_after_restore',  true],
  ['failing_back_after_restore',   'failback_done',      'mirror_required',             false],
  ['failing_back_after_restore',   'failback_failed',    'restored',                    false],

  ['failing_back',                 'failback_done',      'restore_required',            false],
  ['failing_back',                 'failback_failed',    'failed_over',                 false],
  ['restore_required',             'restore',            'restoring_after_failback',    true],
  ['restore_required',             'skip_restore',       'mirror_required',             false], // target changes are lost
  ['restoring_after_failback',     'restore_done',       'mirror_required',             false],
  ['restoring_after_failback',     'restore_failed',     'restore_required',            false],

  ['mirror_required',              'stop',               'stopped',                     false],

  ['reversing',                    'reverse_done',       'mirroring',                   false], // roles swapped, mirroring back
  ['reversing',                    'reverse_failed',     'failed_over',                 false],

  ['error',                        'stop',               'stopped',                     false],
  ['error',                        'condition_met',      'failover_condition_met',      false],
  ['error',                        'failover',           'failing_over',                true],  // retry a failed failover
];

/**
 * Where condition_cleared returns to, keyed by the state the job was in when the condition was met.
 * Running states go back to "starting" so the agents report afresh whether a mirror is needed.
 */
export const RESUME_AFTER_CONDITION: Readonly<Partial<Record<JobState, JobState>>> = {
  stopped: 'stopped',
  starting: 'starting',
  mirroring: 'starting',
  protecting: 'starting',
  paused: 'paused',
  error: 'error',
};
/** Used when the hub did not keep the resume state: stopped sends nothing, so it cannot overwrite anything. */
const RESUME_FALLBACK: JobState = 'stopped';

/** The Activity column text (manual wording where the manual names one). */
export const JOB_ACTIVITY: Readonly<Record<JobState, string>> = {
  stopped: 'Stopped',
  starting: 'Starting',
  mirroring: 'Mirroring',
  protecting: 'Protecting',
  paused: 'Paused',
  failover_condition_met: 'Failover Condition Met',
  failing_over: 'Failing Over',
  failed_over: 'Failed Over',
  restoring: 'Restoring',
  restored: 'Restored',
  failing_back_after_restore: 'Failing Back',
  failing_back: 'Failing Back',
  restore_required: 'Restore Required',
  restoring_after_failback: 'Restoring',
  mirror_required: 'Mirror Required',
  reversing: 'Reversing',
  error: 'Error',
};

/** How a refusal names the current state ("…; the job is <this>"). */
const STATE_PHRASE: Readonly<Record<JobState, string>> = {
  stopped: 'stopped',
  starting: 'starting',
  mirroring: 'mirroring',
  protecting: 'protecting',
  paused: 'paused',
  failover_condition_met: 'waiting at Failover Condition Met',
  failing_over: 'failing over',
  failed_over: 'failed over',
  restoring: 'restoring data to the source',
  restored: 'restored and not yet failed back',
  failing_back_after_restore: 'failing back',
  failing_back: 'failing back',
  restore_required: 'failed back and waiting for a restore decision (Restore Required)',
  restoring_after_failback: 'restoring data to the source',
  mirror_required: 'waiting to be stopped and started again (Mirror Required)',
  reversing: 'reversing protection',
  error: 'in error',
};

/** What must be true for a command, phrased for "<command> is only possible <this>". Kept in step with the table by tests. */
const COMMAND_PRECONDITION: Readonly<Record<JobCommand, string>> = {
  start: 'when the job is stopped or paused',
  stop: 'while the job is running, paused, in error, at Failover Condition Met or at Mirror Required',
  pause: 'while the job is starting, mirroring or protecting',
  resume: 'when the job is paused',
  failover: 'while the job protects the source (running, paused, stopped, in error or at Failover Condition Met)',
  restore: 'after a failover, or after a failback that left the job at Restore Required',
  skip_restore: 'when the job is at Restore Required',
  failback: 'after a failover',
  reverse: 'after a failover',
  mirror_started: 'while the job is starting or protecting',
  mirror_complete: 'while the job is starting or mirroring',
  queue_exhausted: 'while the job is starting, mirroring, protecting or paused',
  fault: 'while the job is starting, mirroring, protecting or paused',
  condition_met: 'while the target monitors the source (running, paused, stopped or in error)',
  condition_cleared: 'when the job is at Failover Condition Met',
  failover_done: 'while a failover is running',
  failover_failed: 'while a failover is running',
  restore_done: 'while a restore is running',
  restore_failed: 'while a restore is running',
  failback_done: 'while a failback is running',
  failback_failed: 'while a failback is running',
  reverse_done: 'while a reverse is running',
  reverse_failed: 'while a reverse is running',
};

/** The next step an operator can take from a state, appended to refusals. */
const NEXT_STEP_HINT: Readonly<Partial<Record<JobState, string>>> = {
  failover_condition_met: 'Fail over, or wait for the source to answer again.',
  failing_over: 'Wait for the failover to finish.',
  failed_over: 'Restore the data to the source and then fail back, or fail back first and restore afterwards.',
  restoring: 'Wait for the restore to finish, then fail back.',
  restored: 'Fail back next.',
  failing_back_after_restore: 'Wait for the failback to finish, then stop and start the job.',
  failing_back: 'Wait for the failback to finish, then restore (or skip the restore).',
  restore_required: 'Restore the data, or choose "Do not restore data".',
  restoring_after_failback: 'Wait for the restore to finish, then stop and start the job.',
  mirror_required: 'Stop the job, then start it to remirror and protect again.',
  reversing: 'Wait for the reverse to finish.',
  error: 'Check the job log, then stop the job (or retry the failover).',
};

export interface JobCommandOptions {
  /** The state recorded when the job entered failover_condition_met (see result.resumeState). */
  resumeState?: JobState;
  /** Reverse protection is not available for files and folders jobs (manual 2.21); other job types pass true. */
  reverseSupported?: boolean;
}

export type JobCommandResult =
  | {
      ok: true;
      next: JobState;
      bumpEpoch: boolean;
      activity: string;
      /** Set when entering failover_condition_met: store it and pass it back with condition_cleared. */
      resumeState?: JobState;
    }
  | { ok: false; code: 'illegal_job_transition' | 'not_supported_for_job_type'; reason: string };

const TRANSITION_INDEX: ReadonlyMap<string, TransitionRow> = new Map(
  JOB_TRANSITIONS.map((row) => [`${row[0]}:${row[1]}`, row]),
);

const label = (command: JobCommand) => command.replaceAll('_', ' ');

/** Looks (state, command) up in the table; never throws. */
export function applyJobCommand(state: JobState, command: JobCommand, options: JobCommandOptions = {}): JobCommandResult {
  if (command === 'reverse' && !options.reverseSupported) {
    return {
      ok: false,
      code: 'not_supported_for_job_type',
      reason: 'reverse is not available for files and folders jobs; restore the data to the source and fail back instead.',
    };
  }
  const row = TRANSITION_INDEX.get(`${state}:${command}`);
  if (!row) {
    const hint = NEXT_STEP_HINT[state];
    return {
      ok: false,
      code: 'illegal_job_transition',
      reason: `${label(command)} is only possible ${COMMAND_PRECONDITION[command]}; the job is ${STATE_PHRASE[state]}.${hint ? ` ${hint}` : ''}`,
    };
  }
  const [, , to, bumpEpoch] = row;
  const next = to === RESUME_STATE ? resumeTarget(options.resumeState) : to;
  const result: Extract<JobCommandResult, { ok: true }> = { ok: true, next, bumpEpoch, activity: JOB_ACTIVITY[next] };
  if (next === 'failover_condition_met') result.resumeState = RESUME_AFTER_CONDITION[state] ?? RESUME_FALLBACK;
  return result;
}

function resumeTarget(recorded: JobState | undefined): JobState {
  return recorded !== undefined && Object.values(RESUME_AFTER_CONDITION).includes(recorded) ? recorded : RESUME_FALLBACK;
}

/** Commands the table accepts from a state, in JobCommand order. */
export function legalCommands(state: JobState, options: Pick<JobCommandOptions, 'reverseSupported'> = {}): JobCommand[] {
  return JobCommand.options.filter(
    (command) => TRANSITION_INDEX.has(`${state}:${command}`) && (command !== 'reverse' || options.reverseSupported === true),
  );
}

export function jobActivity(state: JobState): string {
  return JOB_ACTIVITY[state];
}

/** applyJobCommand for route handlers: returns the success or throws a 409 TandemError carrying the reason. */
export function requireJobCommand(
  state: JobState,
  command: JobCommand,
  options?: JobCommandOptions,
): Extract<JobCommandResult, { ok: true }> {
  const result = applyJobCommand(state, command, options);
  if (!result.ok) throw jobCommandError(result);
  return result;
}

export function jobCommandError(result: Extract<JobCommandResult, { ok: false }>): TandemError {
  return conflict(result.code, result.reason, undefined);
}
