// The result every failover building block returns: one operator-readable sentence per step, never a thrown error
// for an expected failure, so the orchestration can report each step and end the job in a clear state.

export interface StepResult {
  /** Stable machine name of the step, e.g. "script.preFailover", "services.start", "paths.block". */
  step: string;
  ok: boolean;
  /** Nothing to do (not configured, empty list, runs on the other host); always ok. */
  skipped?: boolean;
  /** One or two sentences for the operator: what happened and, on failure, what to do next. */
  detail: string;
  durationMs: number;
  /** Last 4 KB of the combined stdout/stderr of the process(es) the step ran, when there was any. */
  output?: string;
}

export const OUTPUT_TAIL_BYTES = 4096;

export interface StepTimer {
  ok(detail: string, output?: string): StepResult;
  fail(detail: string, output?: string): StepResult;
  skip(detail: string): StepResult;
}

/** Starts the clock for a step; the returned builders stamp the duration. */
export function startStep(step: string, now: () => number = () => performance.now()): StepTimer {
  const startedAt = now();
  const finish = (ok: boolean, detail: string, output?: string, skipped?: boolean): StepResult => {
    const result: StepResult = { step, ok, detail, durationMs: Math.max(0, Math.round(now() - startedAt)) };
    if (skipped) result.skipped = true;
    if (output) result.output = lastBytes(output, OUTPUT_TAIL_BYTES);
    return result;
  };
  return {
    ok: (detail, output) => finish(true, detail, output),
    fail: (detail, output) => finish(false, detail, output),
    skip: (detail) => finish(true, detail, undefined, true),
  };
}

/**
 * Runs a step body and turns an unexpected exception into a failed result, so callers can rely on
 * "never throws". Expected failures are returned by the body itself with a specific sentence.
 */
export async function guardStep<R extends StepResult>(
  step: string,
  body: (timer: StepTimer) => Promise<R>,
): Promise<R | StepResult> {
  const timer = startStep(step);
  try {
    return await body(timer);
  } catch (err) {
    return timer.fail(`Unexpected error in ${step}: ${errorText(err)}. This is a bug or an unusual host condition; see the agent log.`);
  }
}

export function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}

/** The last `limit` bytes of a string as UTF-8, without a broken character at the start. */
export function lastBytes(text: string, limit: number): string {
  const buf = Buffer.from(text, 'utf8');
  if (buf.length <= limit) return text;
  let start = buf.length - limit;
  while (start < buf.length && (buf[start]! & 0xc0) === 0x80) start++;
  return buf.subarray(start).toString('utf8');
}
