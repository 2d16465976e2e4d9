// Runs the job's pre/post failover and failback scripts (manual 2.8): the absolute path with its arguments and no
// shell, TANDEM_* variables describing the job, "delay until script completes" and a timeout the manual lacks.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, constants as fsConstants } from 'node:fs';
import { access, mkdir, open, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FailoverScript } from '../../shared/jobs/failover-settings';
import { describeExit, runProcess } from './process';
import { errorText, guardStep, OUTPUT_TAIL_BYTES, startStep, type StepResult } from './step-result';

export type ScriptPhase = 'preFailover' | 'postFailover' | 'preFailback' | 'postFailback';
export type ScriptRole = 'source' | 'target';

export interface ScriptContext {
  jobId: string;
  jobName: string;
  /** The role of the host running the script; a script configured for the other host is skipped. */
  role: ScriptRole;
  phase: ScriptPhase;
  /** Extra variables for the script (e.g. TANDEM_EPOCH, TANDEM_SOURCE). */
  env?: Record<string, string>;
  signal?: AbortSignal;
  /** Grace between SIGTERM and SIGKILL on timeout; default 5000 (tests shorten it). */
  killGraceMs?: number;
  /** wait: false only: where the script's output goes; default the OS temp directory. */
  logDir?: string;
  /** wait: false only: called with the final result when the background script ends (or is stopped at its timeout). */
  onBackgroundExit?: (result: StepResult) => void;
}

export interface FailoverScripts {
  preFailover?: FailoverScript;
  postFailover?: FailoverScript;
  preFailback?: FailoverScript;
  postFailback?: FailoverScript;
}

const PHASE_WORDS: Record<ScriptPhase, string> = {
  preFailover: 'pre-failover', postFailover: 'post-failover', preFailback: 'pre-failback', postFailback: 'post-failback',
};

/**
 * The script's environment: the agent's environment without the agent's own TANDEM_* settings (they include
 * the agent token), then the job variables, then the caller's extras (which cannot override the job variables).
 */
export function scriptEnvironment(base: NodeJS.ProcessEnv, ctx: Pick<ScriptContext, 'jobId' | 'jobName' | 'phase' | 'role' | 'env'>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(base)) if (!key.startsWith('TANDEM_') && value !== undefined) env[key] = value;
  Object.assign(env, ctx.env ?? {});
  env.TANDEM_JOB_ID = ctx.jobId;
  env.TANDEM_JOB_NAME = ctx.jobName;
  env.TANDEM_PHASE = ctx.phase;
  env.TANDEM_ROLE = ctx.role;
  env.PATH ??= '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  return env;
}

/** Why a configured script cannot be started, as an operator sentence; null when it looks runnable. */
export async function scriptProblem(scriptPath: string, what: string, field: string): Promise<string | null> {
  if (!path.isAbsolute(scriptPath)) return `The ${what} script path "${scriptPath}" is not absolute; set failover.scripts.${field}.path to a full path.`;
  let info;
  try {
    info = await stat(scriptPath);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      return `The ${what} script ${scriptPath} does not exist on this host; install it there or fix failover.scripts.${field}.path.`;
    }
    return `The ${what} script ${scriptPath} cannot be read (${errorText(err)}); check the permissions of its directories.`;
  }
  if (!info.isFile()) return `The ${what} script ${scriptPath} is not a regular file; point failover.scripts.${field}.path at the script itself.`;
  try {
    await access(scriptPath, fsConstants.X_OK);
  } catch {
    return `The ${what} script ${scriptPath} is not executable by the agent; run "chmod +x ${scriptPath}" (and give it a #! line).`;
  }
  return null;
}

/** Runs the script configured for ctx.phase, or reports the step skipped when there is none. */
export function runPhaseScript(scripts: FailoverScripts, ctx: ScriptContext): Promise<StepResult> {
  const script = scripts[ctx.phase];
  if (!script) return Promise.resolve(startStep(`script.${ctx.phase}`).skip(`No ${PHASE_WORDS[ctx.phase]} script is configured.`));
  return runScript(script, ctx);
}

export function runScript(script: FailoverScript, ctx: ScriptContext): Promise<StepResult> {
  const step = `script.${ctx.phase}`;
  const what = PHASE_WORDS[ctx.phase];
  return guardStep(step, async (timer) => {
    const runOn = script.runOn ?? 'target';
    if (runOn !== ctx.role) return timer.skip(`The ${what} script runs on the ${runOn}, not on this ${ctx.role}.`);
    const problem = await scriptProblem(script.path, what, ctx.phase);
    if (problem) return timer.fail(problem);

    const env = scriptEnvironment(process.env, ctx);
    const args = script.args ?? [];
    const timeoutMs = (script.timeoutSec ?? 300) * 1000;
    const graceSec = (ctx.killGraceMs ?? 5000) / 1000;

    if (script.wait === false) return startInBackground(script.path, args, env, timeoutMs, ctx, what, timer);

    const outcome = await runProcess(script.path, args, { env, timeoutMs, killGraceMs: ctx.killGraceMs, signal: ctx.signal, cwd: '/' });
    const out = outcome.output || undefined;
    if (outcome.spawnError) {
      return timer.fail(
        `The ${what} script ${script.path} could not be started (${errorText(outcome.spawnError)}); check its #! interpreter line and permissions.`,
      );
    }
    if (outcome.timedOut) {
      return timer.fail(
        `The ${what} script ${script.path} did not finish within ${script.timeoutSec} s and was stopped ` +
          `(SIGTERM, then SIGKILL after ${graceSec} s); fix the script or raise failover.scripts.${ctx.phase}.timeoutSec.`,
        out,
      );
    }
    if (outcome.aborted) return timer.fail(`The ${what} script ${script.path} was stopped because the ${what.split('-')[1]} was cancelled.`, out);
    if (outcome.code === 0) return timer.ok(`The ${what} script ${script.path} completed successfully.`, out);
    return timer.fail(`The ${what} script ${script.path} ${describeExit(outcome)}; see its output and fix the script.`, out);
  });
}

async function startInBackground(
  file: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number, ctx: ScriptContext, what: string,
  timer: ReturnType<typeof startStep>,
): Promise<StepResult> {
  // Output goes to a file rather than a pipe: the script may outlive an agent restart, and a write to a pipe
  // whose reader is gone would kill it with SIGPIPE.
  const logDir = ctx.logDir ?? tmpdir();
  await mkdir(logDir, { recursive: true });
  const safeId = ctx.jobId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
  const logPath = path.join(logDir, `tandem-${safeId}-${ctx.phase}-${Date.now()}.log`);
  const fd = openSync(logPath, 'a', 0o600);
  let child: ChildProcess;
  try {
    child = spawn(file, args, { env, cwd: '/', stdio: ['ignore', fd, fd], detached: true });
  } finally {
    closeSync(fd);
  }
  const started = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
    child.once('spawn', () => resolve(null));
    child.once('error', (err) => resolve(err));
  });
  if (started) {
    return timer.fail(`The ${what} script ${file} could not be started (${errorText(started)}); check its #! interpreter line and permissions.`);
  }
  const pid = child.pid!;
  const background = startStep(`script.${ctx.phase}`);
  let timedOut = false;
  const killGroup = (sig: NodeJS.Signals) => { try { process.kill(-pid, sig); } catch { /* gone */ } };
  const timeout = setTimeout(() => {
    timedOut = true;
    killGroup('SIGTERM');
    setTimeout(() => killGroup('SIGKILL'), ctx.killGraceMs ?? 5000).unref();
  }, timeoutMs).unref();
  child.once('exit', (code, signal) => {
    clearTimeout(timeout);
    void readTail(logPath).then((output) => {
      const result = timedOut
        ? background.fail(`The ${what} script ${file} (not waited for) ran past its ${timeoutMs / 1000} s timeout and was stopped.`, output)
        : code === 0
          ? background.ok(`The ${what} script ${file} (not waited for) completed successfully.`, output)
          : background.fail(`The ${what} script ${file} (not waited for) ${describeExit({ code, signal })}.`, output);
      ctx.onBackgroundExit?.(result);
    });
  });
  // The agent does not stay alive for a script it was told not to wait for.
  child.unref();
  return timer.ok(`Started the ${what} script ${file} (pid ${pid}) without waiting for it; its output goes to ${logPath}.`);
}

async function readTail(file: string): Promise<string | undefined> {
  try {
    const handle = await open(file, 'r');
    try {
      const { size } = await handle.stat();
      const length = Math.min(size, OUTPUT_TAIL_BYTES);
      const buf = Buffer.alloc(length);
      await handle.read(buf, 0, length, size - length);
      let start = 0;
      while (start < Math.min(3, buf.length) && (buf[start]! & 0xc0) === 0x80) start++;
      return buf.subarray(start).toString('utf8') || undefined;
    } finally {
      await handle.close();
    }
  } catch {
    return undefined;
  }
}
