// When to try a failed delivery again, and what a webhook response means: pure, after Standard Webhooks.

/** Delays after the 1st, 2nd, … failed attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h (≈ 3 days in all). */
export const RETRY_DELAYS_MS: readonly number[] = [
  5_000, 5 * 60_000, 30 * 60_000, 2 * 3_600_000, 5 * 3_600_000, 10 * 3_600_000, 14 * 3_600_000, 20 * 3_600_000, 24 * 3_600_000,
];
/** Longest Retry-After honoured. */
const MAX_RETRY_AFTER_MS = 24 * 3_600_000;

/**
 * Delay before the next attempt after `failedAttempts` failures, or null when the schedule is used up.
 * `jitter` in [0, 1) spreads retries by up to +10 %; a `Retry-After` longer than the schedule wins.
 */
export function nextRetryDelay(failedAttempts: number, opts: { jitter?: number; retryAfterMs?: number | null } = {}): number | null {
  const base = RETRY_DELAYS_MS[failedAttempts - 1];
  if (base === undefined) return null;
  const delay = Math.round(base * (1 + 0.1 * (opts.jitter ?? 0)));
  const after = opts.retryAfterMs != null ? Math.min(opts.retryAfterMs, MAX_RETRY_AFTER_MS) : 0;
  return Math.max(delay, after);
}

export type ResponseOutcome = 'delivered' | 'retry' | 'disable_endpoint';

/** 2xx delivered; 410 Gone disables the endpoint; everything else (3xx not followed, 4xx, 5xx) is retried. */
export function classifyResponse(status: number): ResponseOutcome {
  if (status >= 200 && status < 300) return 'delivered';
  if (status === 410) return 'disable_endpoint';
  return 'retry';
}

/** `Retry-After` as seconds or an HTTP date, in ms from now; null when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number): number | null {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const t = Date.parse(value);
  return Number.isNaN(t) ? null : Math.max(0, t - now);
}
