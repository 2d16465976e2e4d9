// Failover services (manual 2.13): systemd units started on the target and stopped on the source in list order
// (the caller reverses the list where the manual says "stop in reverse order"), through `systemctl`.
import { UnitNameSchema } from '../../shared/jobs/failover-settings';
import { firstLine, runCommand as defaultRunCommand, type CommandResult, type RunCommand } from './command';
import { guardStep, type StepResult } from './step-result';

export interface ServiceOptions {
  runCommand?: RunCommand;
  /** Per systemctl call; default 120 s (systemd's own start timeout is 90 s). */
  timeoutMs?: number;
  /**
   * Keep going after a unit fails. Default: false for start (later units usually depend on earlier ones),
   * true for stop (stop as much as possible).
   */
  continueAfterFailure?: boolean;
}

export interface ServiceState {
  name: string;
  /** `systemctl is-active` said active (exit 0). */
  active: boolean;
  /** What systemctl printed: active, inactive, failed, activating, deactivating, reloading; "unknown" when it could not say. */
  state: string;
  detail: string;
}

const DEFAULT_TIMEOUT_MS = 120_000;
export const SYSTEMD_UNAVAILABLE = 'systemd is not available on this host';

/** A sentence when the failure means systemd itself cannot be used here (no systemctl, or not PID 1); else null. */
export function systemdUnavailable(result: CommandResult): string | null {
  if (result.missing) return `${SYSTEMD_UNAVAILABLE} (systemctl was not found); manage these services with a failover script instead.`;
  const text = `${result.stderr}\n${result.stdout}`;
  if (/not been booted with systemd|Failed to connect to bus|System has not been booted/i.test(text)) {
    return `${SYSTEMD_UNAVAILABLE} (${firstLine(result.stderr) || 'systemd is not running'}); manage these services with a failover script instead.`;
  }
  return null;
}

/** What to do about a failed `systemctl start|stop|restart`, from its message and exit code. */
export function systemctlHint(unit: string, result: CommandResult): string {
  const text = result.stderr + result.stdout;
  if (result.timedOut) return `systemctl did not return in time; check "systemctl status ${unit}" and "journalctl -u ${unit}".`;
  if (/not found|not loaded/i.test(text) || result.code === 5) return `the unit does not exist on this host; install it or remove it from failover.services.`;
  if (/access denied|interactive authentication required|permission denied/i.test(text)) {
    return 'the agent is not allowed to manage units; run it as root or allow it with a polkit rule.';
  }
  return `see "systemctl status ${unit}" and "journalctl -u ${unit}".`;
}

function badUnitName(name: string): string | null {
  // A leading "-" would be taken as an option by systemctl.
  if (!UnitNameSchema.safeParse(name).success || name.startsWith('-')) return `"${name}" is not a systemd unit name`;
  return null;
}

type Verb = 'start' | 'stop' | 'restart';
const DONE: Record<Verb, string> = { start: 'Started', stop: 'Stopped', restart: 'Restarted' };

async function runUnits(verb: Verb, step: string, names: readonly string[], opts: ServiceOptions, continueByDefault: boolean): Promise<StepResult> {
  return guardStep(step, async (timer) => {
    if (names.length === 0) return timer.skip(`No failover services to ${verb}.`);
    const run = opts.runCommand ?? defaultRunCommand;
    const continueAfterFailure = opts.continueAfterFailure ?? continueByDefault;
    const done: string[] = [];
    const failures: string[] = [];
    const outputs: string[] = [];
    let index = 0;
    for (; index < names.length; index++) {
      const unit = names[index]!;
      const bad = badUnitName(unit);
      if (bad) {
        failures.push(`${bad}, so it was not ${verb === 'stop' ? 'stopped' : 'started'}`);
        if (!continueAfterFailure) { index++; break; }
        continue;
      }
      const result = await run('systemctl', [verb, unit], { timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS });
      const output = (result.stdout + result.stderr).trim();
      if (output) outputs.push(`systemctl ${verb} ${unit}: ${output}`);
      const unavailable = systemdUnavailable(result);
      if (unavailable) return timer.fail(withDone(done, verb, unavailable), outputs.join('\n'));
      if (result.code === 0) {
        done.push(unit);
        continue;
      }
      const why = firstLine(result.stderr) || `exit code ${result.code}`;
      failures.push(`${unit} failed to ${verb} (${why}): ${systemctlHint(unit, result)}`);
      if (!continueAfterFailure) { index++; break; }
    }
    const notTried = names.slice(index);
    const parts: string[] = [];
    if (done.length) parts.push(`${DONE[verb]} ${done.join(', ')}.`);
    parts.push(...failures.map((f) => f + (f.endsWith('.') ? '' : '.')));
    if (notTried.length) parts.push(`Not attempted after the failure: ${notTried.join(', ')}.`);
    const detail = parts.join(' ');
    return failures.length === 0 ? timer.ok(detail, outputs.join('\n') || undefined) : timer.fail(detail, outputs.join('\n') || undefined);
  });
}

function withDone(done: string[], verb: Verb, sentence: string): string {
  return done.length ? `${DONE[verb]} ${done.join(', ')}, then: ${sentence}` : sentence;
}


/** `systemctl start` each unit in list order; stops at the first failure unless continueAfterFailure. */
export function startServices(names: readonly string[], opts: ServiceOptions = {}): Promise<StepResult> {
  return runUnits('start', 'services.start', names, opts, false);
}

/** `systemctl stop` each unit in the order given (pass the list reversed for "stop in reverse order"); tries all. */
export function stopServices(names: readonly string[], opts: ServiceOptions = {}): Promise<StepResult> {
  return runUnits('stop', 'services.stop', names, opts, true);
}

export function restartService(name: string, opts: ServiceOptions = {}): Promise<StepResult> {
  return runUnits('restart', 'services.restart', [name], opts, false);
}

/** `systemctl is-active <unit>`; never throws. Used by the source agent's service monitor. */
export async function serviceActive(name: string, opts: Pick<ServiceOptions, 'runCommand' | 'timeoutMs'> = {}): Promise<ServiceState> {
  const bad = badUnitName(name);
  if (bad) return { name, active: false, state: 'unknown', detail: `${bad}.` };
  const run = opts.runCommand ?? defaultRunCommand;
  let result: CommandResult;
  try {
    result = await run('systemctl', ['is-active', name], { timeoutMs: opts.timeoutMs ?? 10_000 });
  } catch (err) {
    return { name, active: false, state: 'unknown', detail: `Could not ask systemd about ${name}: ${(err as Error).message}.` };
  }
  const unavailable = systemdUnavailable(result);
  if (unavailable) return { name, active: false, state: 'unknown', detail: unavailable };
  if (result.timedOut) return { name, active: false, state: 'unknown', detail: `systemctl is-active ${name} did not answer in time.` };
  const state = firstLine(result.stdout) || 'unknown';
  const active = result.code === 0;
  return { name, active, state, detail: active ? `${name} is ${state}.` : `${name} is ${state} (systemctl is-active exit ${result.code}).` };
}
