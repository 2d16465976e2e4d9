import { describe, expect, it } from 'vitest';
import { crc32, decodeRecord, encodeRecord, PREFIX_BYTES, tableCrc32 } from './record-codec';

const op = { seq: 42, enqueuedAt: 1_700_000_000_123, kind: 'write', header: { path: '/data/a.txt', offset: 4096 } };

describe('record codec', () => {
  it('round-trips seq, time, kind, header and payload', () => {
    const payload = Buffer.from('hello queue');
    const decoded = decodeRecord(encodeRecord({ ...op, payload }));
    expect(decoded).toMatchObject({ kind: 'ok', record: { ...op, payload } });
  });

  it('distinguishes an absent payload from an empty one', () => {
    const none = decodeRecord(encodeRecord(op));
    const empty = decodeRecord(encodeRecord({ ...op, payload: Buffer.alloc(0) }));
    expect(none.kind === 'ok' && none.record.payload).toBeUndefined();
    expect(empty.kind === 'ok' && empty.record.payload).toEqual(Buffer.alloc(0));
  });

  it('reports a record cut short as incomplete, never as a record', () => {
    const bytes = encodeRecord({ ...op, payload: Buffer.alloc(50, 7) });
    for (const cut of [0, 5, PREFIX_BYTES, bytes.length - 1]) {
      expect(decodeRecord(bytes.subarray(0, cut)).kind).toBe('incomplete');
    }
  });

  it('rejects a record whose body fails its checksum', () => {
    const bytes = encodeRecord({ ...op, payload: Buffer.alloc(50, 7) });
    bytes[bytes.length - 3]! ^= 0xff;
    expect(decodeRecord(bytes)).toEqual({ kind: 'corrupt', why: 'checksum mismatch' });
  });

  it('rejects a bad record marker', () => {
    const bytes = encodeRecord(op);
    bytes[0] = 0;
    expect(decodeRecord(bytes).kind).toBe('corrupt');
  });

  it('refuses headers that are not JSON objects', () => {
    expect(() => encodeRecord({ ...op, header: [1, 2] })).toThrow(TypeError);
    expect(() => encodeRecord({ ...op, header: { big: 1n } })).toThrow(TypeError);
  });

  it('table CRC32 matches the node:zlib one', () => {
    const data = Buffer.from('The quick brown fox jumps over the lazy dog');
    expect(tableCrc32(data)).toBe(0x414fa339);
    expect(crc32(data)).toBe(0x414fa339);
  });
});
