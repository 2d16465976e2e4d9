import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CompressionGate, FIRST_SKIP_BYTES, MAX_SKIP_BYTES, PROBE_MIN_BYTES } from './compression-gate';
import { decodeFrames, encodeFrameParts, FrameType, type DecodedFrame } from './frames';

const MiB = 1024 * 1024;

/** Feeds `n` payloads of `bytes` through the gate, recording `ratio` for each try; returns how many were tried. */
function feed(gate: CompressionGate, n: number, bytes: number, ratio: number): number {
  let tried = 0;
  for (let i = 0; i < n; i++) {
    if (!gate.shouldTry(bytes)) continue;
    tried++;
    gate.record(bytes, Math.round(bytes * ratio));
  }
  return tried;
}

describe('CompressionGate', () => {
  it('tries everything while payloads shrink', () => {
    const gate = new CompressionGate();
    expect(feed(gate, 100, MiB, 0.4)).toBe(100);
    expect(gate.skippedBytes).toBe(0);
  });

  it('after a failure skips a stretch that doubles with each further failure, up to the maximum', () => {
    const gate = new CompressionGate();
    // 1 try fails -> skip 1 MiB; next try fails -> skip 2 MiB; then 4, 8, 16, 32, 64, 64, ...
    const tries: number[] = [];
    let sinceTry = 0;
    for (let i = 0; i < 400; i++) {
      if (gate.shouldTry(MiB)) { tries.push(sinceTry); sinceTry = 0; gate.record(MiB, MiB + 20); } else sinceTry++;
    }
    expect(tries.slice(0, 9)).toEqual([0, 1, 2, 4, 8, 16, 32, 64, 64]);
    expect(Math.max(...tries)).toBe(MAX_SKIP_BYTES / MiB);
    expect(gate.skippedBytes).toBe((400 - tries.length) * MiB);
  });

  it('one payload that shrinks resets the gate', () => {
    const gate = new CompressionGate();
    feed(gate, 20, MiB, 1.01); // several failures: the stretch is long now
    while (!gate.shouldTry(MiB));
    gate.record(MiB, MiB / 2);
    expect(feed(gate, 10, MiB, 0.5)).toBe(10);
    gate.record(MiB, MiB); // a failure again starts from the first stretch
    expect(gate.shouldTry(FIRST_SKIP_BYTES)).toBe(false);
    expect(gate.shouldTry(MiB)).toBe(true);
  });

  it('small payloads are always tried and do not move it', () => {
    const gate = new CompressionGate();
    expect(feed(gate, 50, PROBE_MIN_BYTES - 1, 1.2)).toBe(50);
    expect(gate.shouldTry(MiB)).toBe(true);
    gate.record(MiB, MiB);
    expect(gate.shouldTry(PROBE_MIN_BYTES - 1)).toBe(true);
    expect(gate.shouldTry(MiB)).toBe(false);
  });

  it('encodeFrameParts with a gate sends random data uncompressed without trying, and it still decodes', async () => {
    const gate = new CompressionGate();
    const payloads = Array.from({ length: 8 }, () => randomBytes(MiB));
    const parts = payloads.flatMap((p) => encodeFrameParts({ type: FrameType.fileOp, header: { n: 1 }, payload: p }, { compressLevel: 3, gate }).parts);
    expect(gate.skippedBytes).toBeGreaterThanOrEqual(4 * MiB);
    const out: DecodedFrame[] = [];
    for await (const f of decodeFrames((async function* () { yield* parts; })())) out.push(f);
    expect(out.map((f, i) => f.payload.equals(payloads[i]!))).toEqual(payloads.map(() => true));
    expect(out.every((f) => !f.compressed)).toBe(true);
  });
});
