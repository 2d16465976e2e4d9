import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  createByteCounter, decodeFrames, detachPayload, encodeFrame, encodeFrameParts, FRAME_PREFIX_BYTES, FrameDecoder, FrameType,
} from './frames';

async function* chunks(...parts: Uint8Array[]) {
  for (const p of parts) yield p;
}

async function collect(source: AsyncIterable<Uint8Array>, opts = {}) {
  const out = [];
  for await (const f of decodeFrames(source, opts)) out.push(f);
  return out;
}

describe('encodeFrame / decodeFrames', () => {
  it('round-trips type, header and payload', async () => {
    const payload = randomBytes(1000);
    const buf = encodeFrame({ type: FrameType.fileOp, header: { path: 'a/b', offset: 4096 }, payload });
    const [f] = await collect(chunks(buf));
    expect(f.type).toBe(FrameType.fileOp);
    expect(f.header).toEqual({ path: 'a/b', offset: 4096 });
    expect(f.payload.equals(payload)).toBe(true);
    expect(f.compressed).toBe(false);
    expect(f.wireBytes).toBe(buf.length);
  });

  it('gives a payload split across chunks as views of those chunks, joined only when asked', async () => {
    const payload = randomBytes(50_000);
    const buf = encodeFrame({ type: FrameType.fileOp, header: { path: 'p' }, payload });
    const pieces = [buf.subarray(0, 7), buf.subarray(7, 16_384), buf.subarray(16_384, 32_768), buf.subarray(32_768)];
    const [f] = await collect(chunks(...pieces));
    expect(f.payloadBytes).toBe(payload.length);
    expect(f.payloadParts.length).toBeGreaterThan(1);
    // Views: the pieces share memory with the chunks received, nothing was copied.
    expect(f.payloadParts.every((p) => pieces.some((c) => c.buffer === p.buffer))).toBe(true);
    expect(Buffer.concat(f.payloadParts as Buffer[]).equals(payload)).toBe(true);
    expect(f.payload.equals(payload)).toBe(true);
    expect(f.payload).toBe(f.payload); // joined once
  });

  it('round-trips a frame without payload and several frames in one chunk', async () => {
    const a = encodeFrame({ type: FrameType.fileOp, header: { path: 'd' } });
    const b = encodeFrame({ type: 31 });
    const frames = await collect(chunks(Buffer.concat([a, b])));
    expect(frames.map((f) => [f.type, f.header, f.payload.length])).toEqual([
      [FrameType.fileOp, { path: 'd' }, 0],
      [31, {}, 0],
    ]);
  });

  it('decodes a frame split at every byte boundary', () => {
    const buf = encodeFrame({ type: FrameType.fileOp, header: { n: 1 }, payload: Buffer.from('hello frames') });
    for (let cut = 0; cut <= buf.length; cut++) {
      const d = new FrameDecoder();
      const frames = [...d.push(buf.subarray(0, cut)), ...d.push(buf.subarray(cut))];
      d.end();
      expect(frames, `cut at ${cut}`).toHaveLength(1);
      expect(frames[0].payload.toString()).toBe('hello frames');
    }
  });

  it('decodes frames fed one byte at a time', () => {
    const payload = randomBytes(300);
    const buf = Buffer.concat([
      encodeFrame({ type: 1, header: { i: 0 }, payload }),
      encodeFrame({ type: 2, header: { i: 1 }, payload, }, { compressLevel: 3 }),
    ]);
    const d = new FrameDecoder();
    const frames = [];
    for (let i = 0; i < buf.length; i++) frames.push(...d.push(buf.subarray(i, i + 1)));
    d.end();
    expect(frames.map((f) => f.header)).toEqual([{ i: 0 }, { i: 1 }]);
    expect(frames.every((f) => f.payload.equals(payload))).toBe(true);
  });

  it('accepts plain Uint8Array chunks', async () => {
    const buf = encodeFrame({ type: 1, payload: Buffer.from('x') });
    const [f] = await collect(chunks(new Uint8Array(buf)));
    expect(f.payload.toString()).toBe('x');
  });
});

describe('compression', () => {
  it('shrinks a compressible payload and reports raw vs wire bytes', async () => {
    const payload = Buffer.alloc(256 * 1024, 'abcdefgh');
    const sent = createByteCounter();
    const buf = encodeFrame({ type: 11, header: {}, payload }, { compressLevel: 3, counter: sent });
    expect(buf.length).toBeLessThan(payload.length / 10);
    expect(sent).toEqual({ frames: 1, rawBytes: FRAME_PREFIX_BYTES + 2 + payload.length, wireBytes: buf.length });
    const received = createByteCounter();
    const [f] = await collect(chunks(buf), { counter: received });
    expect(f.compressed).toBe(true);
    expect(f.payload.equals(payload)).toBe(true);
    expect(f.rawBytes).toBe(sent.rawBytes);
    expect(received).toEqual(sent);
  });

  it('frames compressed one after another keep their own bytes (the compressor reuses its output buffer)', async () => {
    const a = Buffer.alloc(512 * 1024, 'first payload ');
    const b = Buffer.alloc(512 * 1024, 'a different one ');
    const partsA = encodeFrameParts({ type: 11, payload: a }, { compressLevel: 3 }).parts;
    const partsB = encodeFrameParts({ type: 11, payload: b }, { compressLevel: 3 }).parts;
    const [fa, fb] = await collect(chunks(Buffer.concat([...partsA, ...partsB])));
    expect(fa.compressed && fb.compressed).toBe(true);
    expect(fa.payload.equals(a)).toBe(true);
    expect(fb.payload.equals(b)).toBe(true);
    // The compressed payload is exactly its bytes, not a view into a larger scratch buffer.
    expect(partsA[1]!.buffer.byteLength).toBeLessThan(a.length / 10);
  });

  it('sends incompressible data uncompressed', () => {
    const payload = randomBytes(64 * 1024);
    const { parts, wireBytes, rawBytes } = encodeFrameParts({ type: 11, payload }, { compressLevel: 19 });
    expect(wireBytes).toBe(rawBytes);
    expect(parts[1]).toBe(payload); // no copy of the payload either
  });

  it('rejects a corrupted compressed payload as frame_invalid', async () => {
    const buf = encodeFrame({ type: 11, payload: Buffer.alloc(10_000, 1) }, { compressLevel: 3 });
    buf[buf.length - 3] ^= 0xff;
    buf[buf.length - 5] ^= 0xff;
    await expect(collect(chunks(buf))).rejects.toMatchObject({ code: 'frame_invalid' });
  });
});

describe('limits and garbage', () => {
  it('refuses an oversized frame from its prefix, before the body arrives', () => {
    const big = encodeFrame({ type: 11, payload: Buffer.alloc(2048) });
    const d = new FrameDecoder({ maxFrameBytes: 1024 });
    expect(() => d.push(big.subarray(0, FRAME_PREFIX_BYTES))).toThrow(expect.objectContaining({ code: 'frame_too_large', status: 413 }));
  });

  it('refuses a compressed frame whose uncompressed size exceeds the limit (decompression bomb)', () => {
    const bomb = encodeFrame({ type: 11, payload: Buffer.alloc(1024 * 1024) }, { compressLevel: 3 });
    expect(bomb.length).toBeLessThan(1024);
    const d = new FrameDecoder({ maxFrameBytes: 64 * 1024 });
    expect(() => d.push(bomb)).toThrow(expect.objectContaining({ code: 'frame_too_large' }));
  });

  it('refuses to encode a frame over the limit', () => {
    expect(() => encodeFrame({ type: 1, payload: Buffer.alloc(2000) }, { maxFrameBytes: 1000 })).toThrow(
      expect.objectContaining({ code: 'frame_too_large' }),
    );
  });

  it('refuses garbage, bad versions, unknown flags and bad JSON with frame_invalid', async () => {
    const good = encodeFrame({ type: 1, header: { a: 1 } });
    const variants: Buffer[] = [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')];
    const badVersion = Buffer.from(good); badVersion[2] = 9; variants.push(badVersion);
    const badFlags = Buffer.from(good); badFlags[4] = 0x80; variants.push(badFlags);
    const badJson = Buffer.from(good); badJson[FRAME_PREFIX_BYTES] = 0x7b + 1; variants.push(badJson);
    for (const v of variants) await expect(collect(chunks(v))).rejects.toMatchObject({ code: 'frame_invalid' });
  });

  it('refuses a stream cut mid-frame', async () => {
    const buf = encodeFrame({ type: 1, payload: Buffer.alloc(100) });
    await expect(collect(chunks(buf.subarray(0, 50)))).rejects.toMatchObject({ code: 'frame_invalid' });
    await expect(collect(chunks(buf.subarray(0, 5)))).rejects.toMatchObject({ code: 'frame_invalid' });
  });

  it('refuses an invalid frame type when encoding', () => {
    expect(() => encodeFrame({ type: 256 })).toThrow(expect.objectContaining({ code: 'frame_invalid' }));
  });
});

describe('detachPayload', () => {
  it('keeps a payload the decoder assembled from several chunks, without copying it', () => {
    const payload = randomBytes(256 * 1024);
    const wire = encodeFrame({ type: FrameType.fileOp, header: { seq: 1 }, payload });
    const d = new FrameDecoder();
    const frames = [];
    for (let i = 0; i < wire.length; i += 16 * 1024) frames.push(...d.push(wire.subarray(i, i + 16 * 1024)));
    const kept = detachPayload(frames[0]!.payload);
    expect(kept.equals(payload)).toBe(true);
    expect(kept.buffer).toBe(frames[0]!.payload.buffer);
  });

  it('copies a small payload out of the large chunk it arrived in', () => {
    const small = encodeFrame({ type: FrameType.fileOp, header: { seq: 2 }, payload: Buffer.from('tiny write') });
    // As a network read delivers it: a view into a 64 KiB receive buffer.
    const chunk = Buffer.concat([small, Buffer.alloc(64 * 1024)]).subarray(0, small.length);
    const [f] = new FrameDecoder().push(chunk);
    expect(f!.payload.buffer.byteLength).toBeGreaterThan(64 * 1024);
    const kept = detachPayload(f!.payload);
    expect(kept.toString()).toBe('tiny write');
    expect(kept.buffer.byteLength).toBeLessThan(64 * 1024);
    expect(kept.buffer).not.toBe(f!.payload.buffer);
  });
});
