// Binary form of one queued operation, shared by the memory queue and segment files, with a CRC32 per record.
//
// Layout (little-endian):
//   prefix  magic u32 | bodyLength u32 | crc32(body) u32
//   body    seq u64 | enqueuedAt f64 | kindLength u16 | kind utf8 | headerLength u32 | header JSON utf8
//           | flags u8 (bit 0: payload present) | payloadLength u32 | payload
import * as zlib from 'node:zlib';
import type { QueuedRecord } from './types';

export const RECORD_MAGIC = 0x5154_4e54; // "TNTQ" read little-endian
export const PREFIX_BYTES = 12;
/** Fixed part of the body before the kind string: seq + enqueuedAt + kindLength. */
const BODY_FIXED_HEAD = 8 + 8 + 2;
/** Smallest possible body: fixed head, headerLength, flags, payloadLength. */
const MIN_BODY_BYTES = BODY_FIXED_HEAD + 4 + 1 + 4;
/** Sanity cap so a corrupt length field is reported as corruption, not as a 4 GB read. */
export const MAX_BODY_BYTES = 2 ** 31;
const MAX_KIND_BYTES = 0xffff;

/** CRC32 (IEEE) from node:zlib (Node >= 20.15), with a table fallback for older runtimes. */
export const crc32: (data: Uint8Array) => number =
  typeof (zlib as { crc32?: unknown }).crc32 === 'function'
    ? (data) => (zlib as unknown as { crc32(d: Uint8Array): number }).crc32(data)
    : tableCrc32;

let crcTable: Uint32Array | undefined;
export function tableCrc32(data: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = crcTable[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

export interface RecordInput {
  seq: number;
  enqueuedAt: number;
  kind: string;
  header: object;
  payload?: Uint8Array;
}

function checkedParts(input: RecordInput): { kind: Buffer; header: Buffer; bodyLength: number } {
  if (typeof input.header !== 'object' || input.header === null || Array.isArray(input.header)) {
    throw new TypeError('queue op header must be a JSON object');
  }
  const headerJson = JSON.stringify(input.header);
  if (headerJson === undefined) throw new TypeError('queue op header is not JSON-serialisable');
  const kind = Buffer.from(input.kind, 'utf8');
  if (kind.length > MAX_KIND_BYTES) throw new TypeError(`queue op kind is longer than ${MAX_KIND_BYTES} bytes`);
  const header = Buffer.from(headerJson, 'utf8');
  const bodyLength = MIN_BODY_BYTES + kind.length + header.length + (input.payload?.length ?? 0);
  if (bodyLength > MAX_BODY_BYTES) throw new TypeError('queue op is larger than 2 GB');
  return { kind, header, bodyLength };
}

/**
 * The encoded size of an operation, with the same checks as encodeRecord (the memory tier keeps records
 * unencoded and only needs their size; it encodes them if they are ever written to disk).
 */
export function encodedRecordBytes(input: RecordInput): number {
  return PREFIX_BYTES + checkedParts(input).bodyLength;
}

/** Encodes an operation; throws TypeError when the header is not a JSON object or the kind is too long. */
export function encodeRecord(input: RecordInput): Buffer {
  const { kind, header, bodyLength } = checkedParts(input);
  const payload = input.payload;

  const buf = Buffer.allocUnsafe(PREFIX_BYTES + bodyLength);
  let o = PREFIX_BYTES;
  buf.writeBigUInt64LE(BigInt(input.seq), o); o += 8;
  buf.writeDoubleLE(input.enqueuedAt, o); o += 8;
  buf.writeUInt16LE(kind.length, o); o += 2;
  kind.copy(buf, o); o += kind.length;
  buf.writeUInt32LE(header.length, o); o += 4;
  header.copy(buf, o); o += header.length;
  buf.writeUInt8(payload ? 1 : 0, o); o += 1;
  buf.writeUInt32LE(payload?.length ?? 0, o); o += 4;
  if (payload) buf.set(payload, o);

  buf.writeUInt32LE(RECORD_MAGIC, 0);
  buf.writeUInt32LE(bodyLength, 4);
  buf.writeUInt32LE(crc32(buf.subarray(PREFIX_BYTES)), 8);
  return buf;
}

export type PrefixCheck =
  | { kind: 'ok'; recordBytes: number }
  | { kind: 'incomplete' }
  | { kind: 'corrupt'; why: string };

/** Validates the 12-byte prefix at `offset`: enough to know the record's total size. */
export function checkPrefix(buf: Buffer, offset: number): PrefixCheck {
  if (buf.length - offset < PREFIX_BYTES) return { kind: 'incomplete' };
  if (buf.readUInt32LE(offset) !== RECORD_MAGIC) return { kind: 'corrupt', why: 'bad record marker' };
  const bodyLength = buf.readUInt32LE(offset + 4);
  if (bodyLength < MIN_BODY_BYTES || bodyLength > MAX_BODY_BYTES) return { kind: 'corrupt', why: 'bad record length' };
  return { kind: 'ok', recordBytes: PREFIX_BYTES + bodyLength };
}

/** Reads seq and enqueuedAt without checking the CRC; for indexes over records already verified. */
export function peekSeqAndTime(buf: Buffer, offset: number): { seq: number; enqueuedAt: number } {
  return {
    seq: Number(buf.readBigUInt64LE(offset + PREFIX_BYTES)),
    enqueuedAt: buf.readDoubleLE(offset + PREFIX_BYTES + 8),
  };
}

/** CRC check only, for the start-up scan: the record is returned later through `decodeRecord`. */
export function verifyChecksum(buf: Buffer, offset: number, recordBytes: number): boolean {
  return crc32(buf.subarray(offset + PREFIX_BYTES, offset + recordBytes)) === buf.readUInt32LE(offset + 8);
}

export type DecodeResult =
  | { kind: 'ok'; record: QueuedRecord; recordBytes: number }
  | { kind: 'incomplete' }
  | { kind: 'corrupt'; why: string };

/** Decodes and verifies the record at `offset`. `incomplete` = the buffer ends mid-record. */
export function decodeRecord(buf: Buffer, offset = 0): DecodeResult {
  const prefix = checkPrefix(buf, offset);
  if (prefix.kind !== 'ok') return prefix;
  const end = offset + prefix.recordBytes;
  if (buf.length < end) return { kind: 'incomplete' };
  const body = buf.subarray(offset + PREFIX_BYTES, end);
  if (crc32(body) !== buf.readUInt32LE(offset + 8)) return { kind: 'corrupt', why: 'checksum mismatch' };

  try {
    let o = 0;
    const seq = Number(body.readBigUInt64LE(o)); o += 8;
    const enqueuedAt = body.readDoubleLE(o); o += 8;
    const kindLength = body.readUInt16LE(o); o += 2;
    const kind = body.toString('utf8', o, o + kindLength); o += kindLength;
    const headerLength = body.readUInt32LE(o); o += 4;
    const header = JSON.parse(body.toString('utf8', o, o + headerLength)) as Record<string, unknown>; o += headerLength;
    const flags = body.readUInt8(o); o += 1;
    const payloadLength = body.readUInt32LE(o); o += 4;
    if (o + payloadLength !== body.length) return { kind: 'corrupt', why: 'field lengths do not add up' };
    // Copy so a returned payload does not pin a whole segment read buffer in memory.
    const record: QueuedRecord = { seq, kind, header, enqueuedAt };
    if (flags & 1) record.payload = Buffer.from(body.subarray(o, o + payloadLength));
    return { kind: 'ok', record, recordBytes: prefix.recordBytes };
  } catch (err) {
    // A matching CRC over malformed fields means a writer bug, not a torn write; still never return it.
    return { kind: 'corrupt', why: `malformed record: ${(err as Error).message}` };
  }
}
