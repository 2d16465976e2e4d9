// A bounded buffer that keeps only the last bytes of a process's output (operators need the end, where errors are).
import { OUTPUT_TAIL_BYTES } from './step-result';

export class OutputTail {
  private chunks: Buffer[] = [];
  private length = 0;
  /** Bytes dropped from the front so far. */
  dropped = 0;

  constructor(readonly limit: number = OUTPUT_TAIL_BYTES) {}

  push(chunk: Buffer | string): void {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    this.chunks.push(buf);
    this.length += buf.length;
    // Compact lazily so a chatty process costs O(output), not O(output × chunks).
    if (this.length > this.limit * 2) this.compact();
  }

  private compact(): void {
    const all = Buffer.concat(this.chunks, this.length);
    const keep = all.subarray(Math.max(0, all.length - this.limit));
    this.dropped += all.length - keep.length;
    this.chunks = [Buffer.from(keep)];
    this.length = keep.length;
  }

  /** The kept bytes as UTF-8; a character cut at the front is dropped rather than shown as garbage. */
  toString(): string {
    this.compact();
    const buf = this.chunks[0] ?? Buffer.alloc(0);
    let start = 0;
    if (this.dropped > 0) while (start < buf.length && start < 3 && (buf[start]! & 0xc0) === 0x80) start++;
    return buf.subarray(start).toString('utf8');
  }
}
