// Decides whether a data stream's next payload is worth compressing. Data that is already compressed or
// encrypted (media, archives, compressed database pages, random bytes) does not shrink, yet zstd still spends
// about half a second of CPU per GiB finding that out, on the same core that encrypts the stream. After a
// payload fails to shrink, the gate lets the next bytes pass uncompressed, a stretch that doubles with each
// further failure (up to MAX_SKIP_BYTES), then tries again; one payload that does shrink resets it.

/** A payload that saves less than this fraction counts as incompressible. */
export const MIN_SAVING = 0.03;
/** Payloads smaller than this are always tried and never change the gate (too little to judge by). */
export const PROBE_MIN_BYTES = 16 * 1024;
export const FIRST_SKIP_BYTES = 1024 * 1024;
export const MAX_SKIP_BYTES = 64 * 1024 * 1024;

export class CompressionGate {
  /** Bytes still to pass uncompressed before the next try. */
  private skipLeft = 0;
  /** Length of the next stretch after another failure. */
  private nextSkip = FIRST_SKIP_BYTES;
  /** Payload bytes passed without trying (a figure for tests and diagnostics). */
  skippedBytes = 0;

  /** Whether to try compressing a payload of `bytes`; a `false` counts the bytes as skipped. */
  shouldTry(bytes: number): boolean {
    if (bytes < PROBE_MIN_BYTES || this.skipLeft <= 0) return true;
    this.skipLeft -= bytes;
    this.skippedBytes += bytes;
    return false;
  }

  /** The outcome of a try: raw payload size and the compressed size. */
  record(rawBytes: number, packedBytes: number): void {
    if (rawBytes < PROBE_MIN_BYTES) return;
    if (packedBytes <= rawBytes * (1 - MIN_SAVING)) {
      this.skipLeft = 0;
      this.nextSkip = FIRST_SKIP_BYTES;
      return;
    }
    this.skipLeft = this.nextSkip;
    this.nextSkip = Math.min(this.nextSkip * 2, MAX_SKIP_BYTES);
  }
}
