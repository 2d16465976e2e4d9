// The injectable way the failover modules run host tools (systemctl, ip, arping, cp, btrfs): a function, so tests
// can put fake executables first in PATH, and the orchestration can add logging or sudo around it.
import { runProcess, shellStatus } from './process';

export interface CommandResult {
  /** Exit status in shell terms: 127 = command not found, 126 = not executable, 128+n = killed by signal n. */
  code: number;
  stdout: string;
  stderr: string;
  /** The command was not found on PATH (code 127). */
  missing?: boolean;
  timedOut?: boolean;
}

export type RunCommand = (cmd: string, args: readonly string[], opts: { timeoutMs: number }) => Promise<CommandResult>;

export interface CommandRunnerOptions {
  /** Environment for the commands (PATH decides which executables run). Default: the agent's environment. */
  env?: NodeJS.ProcessEnv;
  /** Grace between SIGTERM and SIGKILL on timeout; default 5000. */
  killGraceMs?: number;
}

export function createCommandRunner(options: CommandRunnerOptions = {}): RunCommand {
  // English messages: the callers recognise a few (e.g. "File exists", "Operation not permitted").
  const env = { ...(options.env ?? process.env), LC_ALL: 'C', LANG: 'C' };
  return async (cmd, args, { timeoutMs }) => {
    const outcome = await runProcess(cmd, args, { env, timeoutMs, killGraceMs: options.killGraceMs });
    const code = shellStatus(outcome);
    const result: CommandResult = { code, stdout: outcome.stdout, stderr: outcome.stderr };
    if (outcome.spawnError?.code === 'ENOENT') result.missing = true;
    if (outcome.spawnError && !result.missing) result.stderr ||= outcome.spawnError.message;
    if (outcome.timedOut) result.timedOut = true;
    return result;
  };
}

/** The default runner: the agent's own environment. */
export const runCommand: RunCommand = createCommandRunner();

/** First non-empty line of a command's error output, for one-sentence details. */
export function firstLine(text: string): string {
  return text.split('\n').map((l) => l.trim()).find((l) => l.length > 0) ?? '';
}
