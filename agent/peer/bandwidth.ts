// The bandwidth limit on what a source sends to a target (manual 2.16): one token bucket per target address, shared
// by every job sending there, so together they never exceed the limit; each job says the limit its settings give now.

/**
 * A token bucket (bytes per second) that lets a sender run into debt: `take` always grants and returns how long to
 * wait before sending more, so one large piece is paced as exactly as many small ones. A burst is at most a quarter
 * of a second's worth, so no second carries much more than the limit.
 */
export class TokenBucket {
  private tokens = 0;
  private at: number;

  constructor(private rate: number, now: number) {
    this.at = now;
  }

  setRate(rate: number, now: number): void {
    this.refill(now);
    this.rate = rate;
  }

  /** Takes `bytes`; returns the milliseconds to wait before the next take (0: go on). */
  take(bytes: number, now: number): number {
    this.refill(now);
    this.tokens -= bytes;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.rate) * 1000);
  }

  private refill(now: number): void {
    const burst = this.rate / 4;
    this.tokens = Math.min(burst, this.tokens + ((now - this.at) / 1000) * this.rate);
    this.at = now;
  }
}

/** The limit to one target address: the lowest that any job sending there asks for (null: no limit). */
export class SharedLimit {
  private byJob = new Map<string, number>();
  private bucket: TokenBucket | null = null;

  set(jobId: string, bytesPerSec: number | null): void {
    if (bytesPerSec === null) this.byJob.delete(jobId);
    else this.byJob.set(jobId, bytesPerSec);
    const rate = this.rate();
    if (rate === null) this.bucket = null;
    else if (this.bucket) this.bucket.setRate(rate, Date.now());
    else this.bucket = new TokenBucket(rate, Date.now());
  }

  rate(): number | null {
    return this.byJob.size ? Math.min(...this.byJob.values()) : null;
  }

  /** Milliseconds to wait after sending `bytes` (0 without a limit). */
  take(bytes: number): number {
    return this.bucket?.take(bytes, Date.now()) ?? 0;
  }
}

/**
 * The most a single request should carry under a limit: about ten seconds' worth (at least 64 KiB), so what is
 * acknowledged keeps pace with what is sent and a dropped link repeats little. Without a limit, `max`.
 */
export function requestBytesFor(rate: number | null, max: number): number {
  if (rate === null) return max;
  return Math.min(max, Math.max(64 * 1024, rate * 10));
}

const limits = new Map<string, SharedLimit>();

/** The shared limit for a target address (host:port), created on first use. */
export function limitTo(address: string): SharedLimit {
  let l = limits.get(address);
  if (!l) limits.set(address, (l = new SharedLimit()));
  return l;
}

/**
 * Passes `body` on at the limit's pace, in pieces of about a tenth of a second's worth so the link is never idle
 * long. Without a limit in force chunks go on as they are; a limit set or changed mid-stream applies at once.
 */
export async function* paced(body: AsyncIterable<Buffer>, limit: SharedLimit, signal?: AbortSignal): AsyncGenerator<Buffer> {
  for await (const chunk of body) {
    let offset = 0;
    while (offset < chunk.length) {
      const rate = limit.rate();
      if (rate === null) {
        yield offset === 0 ? chunk : chunk.subarray(offset);
        break;
      }
      const piece = Math.max(512, Math.min(64 * 1024, Math.floor(rate / 10)));
      const part = chunk.subarray(offset, offset + piece);
      offset += part.length;
      yield part;
      const waitMs = limit.take(part.length);
      if (waitMs > 0) await sleep(waitMs, signal);
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => { clearTimeout(t); signal?.removeEventListener('abort', done); resolve(); };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
