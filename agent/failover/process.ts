// Runs one external program without a shell: own process group, output tails, a timeout that sends SIGTERM and then
// SIGKILL, and cancellation. Shared by the script runner and the command runner (systemctl, ip, cp, btrfs).
import { spawn } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { OutputTail } from './output-tail';
import { OUTPUT_TAIL_BYTES } from './step-result';

export interface RunProcessOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Stop the process after this long (SIGTERM to its process group, SIGKILL after killGraceMs). */
  timeoutMs?: number;
  /** Default 5000. */
  killGraceMs?: number;
  signal?: AbortSignal;
  /** Bytes kept of stdout and of stderr separately (default 64 KB); the combined tail is always 4 KB. */
  streamLimit?: number;
}

export interface ProcessOutcome {
  /** Exit code; null when killed by a signal or when it never started. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The program could not be started (ENOENT: no such file or bad #! interpreter; EACCES: not executable). */
  spawnError?: NodeJS.ErrnoException;
  timedOut: boolean;
  aborted: boolean;
  pid?: number;
  stdout: string;
  stderr: string;
  /** Last 4 KB of stdout and stderr interleaved as they arrived. */
  output: string;
}

/** How long to keep reading after the main process exits: a background child may hold the pipes open for ever. */
const DRAIN_AFTER_EXIT_MS = 250;

export function runProcess(file: string, args: readonly string[], opts: RunProcessOptions = {}): Promise<ProcessOutcome> {
  const stdout = new OutputTail(opts.streamLimit ?? 64 * 1024);
  const stderr = new OutputTail(opts.streamLimit ?? 64 * 1024);
  const combined = new OutputTail(OUTPUT_TAIL_BYTES);
  const outcome = (extra: Partial<ProcessOutcome>): ProcessOutcome => ({
    code: null, signal: null, timedOut: false, aborted: false,
    ...extra,
    stdout: stdout.toString(), stderr: stderr.toString(), output: combined.toString(),
  });

  if (opts.signal?.aborted) return Promise.resolve(outcome({ aborted: true }));

  return new Promise((resolve) => {
    let settled = false;
    let timedOut = false;
    let aborted = false;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    const timers: NodeJS.Timeout[] = [];

    // A new process group, so a timeout also stops what a script started (otherwise `sleep` in a shell
    // script would survive and keep the pipes open).
    const child = spawn(file, [...args], {
      cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
    });

    const killGroup = (sig: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        try { child.kill(sig); } catch { /* already gone */ }
      }
    };
    const stop = () => {
      killGroup('SIGTERM');
      // Unref'd: if the group is already gone the agent need not wait for this.
      timers.push(setTimeout(() => killGroup('SIGKILL'), opts.killGraceMs ?? 5000).unref());
    };
    const onAbort = () => { aborted = true; stop(); };

    const finish = (extra: Partial<ProcessOutcome>) => {
      if (settled) return;
      settled = true;
      for (const t of timers) if (!timedOut && !aborted) clearTimeout(t);
      opts.signal?.removeEventListener('abort', onAbort);
      child.stdout?.destroy();
      child.stderr?.destroy();
      resolve(outcome({ timedOut, aborted, pid: child.pid, ...extra }));
    };

    child.stdout!.on('data', (c: Buffer) => { stdout.push(c); combined.push(c); });
    child.stderr!.on('data', (c: Buffer) => { stderr.push(c); combined.push(c); });
    child.on('error', (err: NodeJS.ErrnoException) => {
      // After a successful spawn, 'error' only reports a failed kill; the exit still arrives.
      if (child.pid === undefined) finish({ spawnError: err });
    });
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      timers.push(setTimeout(() => finish(exit!), DRAIN_AFTER_EXIT_MS));
    });
    child.on('close', () => { if (exit) finish(exit); });

    if (opts.timeoutMs !== undefined && opts.timeoutMs > 0) {
      timers.push(setTimeout(() => { if (!exit) { timedOut = true; stop(); } }, opts.timeoutMs));
    }
    opts.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** "exited with code 3", "was killed by SIGKILL", for operator messages. */
export function describeExit(outcome: Pick<ProcessOutcome, 'code' | 'signal'>): string {
  if (outcome.signal) return `was killed by ${outcome.signal}`;
  return `exited with code ${outcome.code ?? 'unknown'}`;
}

/** Shell-style status: the exit code, 128 + signal number when killed, 127 not found, 126 not executable. */
export function shellStatus(outcome: ProcessOutcome): number {
  if (outcome.spawnError) return outcome.spawnError.code === 'ENOENT' ? 127 : 126;
  if (outcome.code !== null) return outcome.code;
  if (outcome.signal) return 128 + (osConstants.signals[outcome.signal] ?? 0);
  return 1;
}
