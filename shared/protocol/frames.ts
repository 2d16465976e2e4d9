// Data-plane frame codec between agents (inside HTTPS request/response bodies): a fixed binary
// prefix, a JSON header and an optionally zstd-compressed binary payload.
import zstd from 'zstd-napi/binding';
import { TandemError } from '../errors';
import type { CompressionGate } from './compression-gate';

/*
 * Layout (all integers big-endian), 20-byte prefix:
 *   0  u16 magic 0x5446 ("TF")      8  u32 header JSON length
 *   2  u8  version (1)             12  u32 payload length on the wire
 *   3  u8  frame type              16  u32 payload length uncompressed
 *   4  u8  flags (bit 0 = zstd)
 *   5  3 bytes reserved, zero
 * followed by the UTF-8 JSON header, then the payload. The uncompressed length is carried so the
 * receiver can refuse a decompression bomb before inflating and allocate the output exactly once.
 */
export const FRAME_MAGIC = 0x5446;
export const FRAME_VERSION = 1;
export const FRAME_PREFIX_BYTES = 20;
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_HEADER_BYTES = 1024 * 1024;
const FLAG_COMPRESSED = 0x01;
const KNOWN_FLAGS = FLAG_COMPRESSED;
/** Below this, zstd's own framing outweighs any saving. */
const MIN_COMPRESS_BYTES = 64;

/**
 * Frame type codes; the single registry, so a code is never reused. Extend here. Codes are a
 * u8; header contents per type are validated by the caller with zod.
 */
export const FrameType = {
  /** A FileOp (shared/protocol/ops.ts) in the header, its bytes (if any) in the payload. */
  fileOp: 30,
} as const;
export type FrameTypeName = keyof typeof FrameType;

export interface Frame {
  /** u8 frame type, normally a FrameType value. */
  type: number;
  /** Any JSON-serialisable value; defaults to {}. */
  header?: unknown;
  payload?: Uint8Array;
}

export interface DecodedFrame {
  type: number;
  header: unknown;
  /**
   * Uncompressed payload in one buffer. May be a view into a received chunk; copy it if you keep it long.
   * A payload that arrived across several network chunks is joined (copied) the first time this is read.
   */
  readonly payload: Buffer;
  /** The same payload as it arrived: views of consecutive network chunks, for a writev without the join. */
  readonly payloadParts: readonly Buffer[];
  readonly payloadBytes: number;
  compressed: boolean;
  /** Bytes this frame took on the wire ("compressed bytes sent"). */
  wireBytes: number;
  /** Bytes it would have taken without compression ("bytes sent"). */
  rawBytes: number;
}

/** Running totals for the UI's "bytes sent" vs "compressed bytes sent" (manual 2.15, 2.18). */
export interface FrameByteCounter {
  frames: number;
  rawBytes: number;
  wireBytes: number;
}

export function createByteCounter(): FrameByteCounter {
  return { frames: 0, rawBytes: 0, wireBytes: 0 };
}

export interface EncodeOptions {
  /** zstd level (1..19 sensible, up to 22, negatives are "fast"); 0 or absent = no compression. */
  compressLevel?: number;
  maxFrameBytes?: number;
  counter?: FrameByteCounter;
  /** The stream's gate: skips compressing after payloads that did not shrink (see compression-gate.ts). */
  gate?: CompressionGate;
}

export interface DecodeOptions {
  maxFrameBytes?: number;
  maxHeaderBytes?: number;
  counter?: FrameByteCounter;
}

const invalid = (message: string) => new TandemError('frame_invalid', message, 400);
const tooLarge = (bytes: number, max: number) =>
  new TandemError(
    'frame_too_large',
    `Frame of ${bytes} bytes exceeds the ${max}-byte limit; send smaller data frames (split ranges) or raise maxFrameBytes on both agents.`,
    413,
  );

/** Compression output goes to a reused buffer up to this bound; only the compressed bytes are copied out. */
const SCRATCH_MAX_BYTES = 8 * 1024 * 1024;

/**
 * One zstd context per level. zstd-napi's Compressor allocates a fresh output buffer the size of the input for
 * every payload over 128 KiB; at replication rates that is gigabytes of short-lived external memory, and V8
 * answers external memory growth with garbage collections. A reused scratch buffer avoids it.
 */
class FrameCompressor {
  private readonly cctx = new zstd.CCtx();
  private scratch: Buffer | null = null;

  constructor(level: number) {
    this.cctx.setParameter(zstd.CParameter.compressionLevel, level);
  }

  /** The compressed bytes in a buffer of their own, or null when they would not be smaller than `raw`. */
  compress(raw: Buffer): Buffer | null {
    const bound = zstd.compressBound(raw.length);
    let dest: Buffer;
    if (bound > SCRATCH_MAX_BYTES) dest = Buffer.allocUnsafe(bound);
    else dest = this.scratch && this.scratch.length >= bound ? this.scratch : (this.scratch = Buffer.allocUnsafe(bound));
    const length = this.cctx.compress2(dest, raw);
    return length < raw.length ? Buffer.from(dest.subarray(0, length)) : null;
  }
}

const compressors = new Map<number, FrameCompressor>();
function compressorFor(level: number): FrameCompressor {
  let c = compressors.get(level);
  if (!c) {
    c = new FrameCompressor(level);
    compressors.set(level, c);
  }
  return c;
}
let dctx: InstanceType<typeof zstd.DCtx> | undefined;

const asBuffer = (u: Uint8Array) => (Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength));

/**
 * Encodes a frame as [prefix+header, payload] so a large payload can be written with writev
 * without another copy. Compression is skipped when it would not make the payload smaller.
 */
export function encodeFrameParts(frame: Frame, options: EncodeOptions = {}): { parts: Buffer[]; wireBytes: number; rawBytes: number } {
  if (!Number.isInteger(frame.type) || frame.type < 0 || frame.type > 255) {
    throw new TandemError('frame_invalid', `Frame type ${frame.type} must be an integer 0..255.`, 400);
  }
  const max = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const json = Buffer.from(JSON.stringify(frame.header ?? {}), 'utf8');
  const raw = frame.payload ? asBuffer(frame.payload) : Buffer.alloc(0);
  const rawBytes = FRAME_PREFIX_BYTES + json.length + raw.length;
  if (rawBytes > max) throw tooLarge(rawBytes, max);

  let payload = raw;
  let flags = 0;
  const level = options.compressLevel ?? 0;
  if (level !== 0 && raw.length >= MIN_COMPRESS_BYTES && (options.gate?.shouldTry(raw.length) ?? true)) {
    const packed = compressorFor(level).compress(raw);
    options.gate?.record(raw.length, packed?.length ?? raw.length);
    if (packed) {
      payload = packed;
      flags |= FLAG_COMPRESSED;
    }
  }
  const prefix = Buffer.allocUnsafe(FRAME_PREFIX_BYTES + json.length);
  prefix.writeUInt16BE(FRAME_MAGIC, 0);
  prefix.writeUInt8(FRAME_VERSION, 2);
  prefix.writeUInt8(frame.type, 3);
  prefix.writeUInt8(flags, 4);
  prefix.fill(0, 5, 8);
  prefix.writeUInt32BE(json.length, 8);
  prefix.writeUInt32BE(payload.length, 12);
  prefix.writeUInt32BE(raw.length, 16);
  json.copy(prefix, FRAME_PREFIX_BYTES);
  const wireBytes = prefix.length + payload.length;
  if (options.counter) {
    options.counter.frames++;
    options.counter.rawBytes += rawBytes;
    options.counter.wireBytes += wireBytes;
  }
  return { parts: payload.length > 0 ? [prefix, payload] : [prefix], wireBytes, rawBytes };
}

/** Encodes a frame into one Buffer. */
export function encodeFrame(frame: Frame, options: EncodeOptions = {}): Buffer {
  const { parts, wireBytes } = encodeFrameParts(frame, options);
  return parts.length === 1 ? parts[0] : Buffer.concat(parts, wireBytes);
}

interface Prefix {
  type: number;
  compressed: boolean;
  headerBytes: number;
  wirePayloadBytes: number;
  rawPayloadBytes: number;
}

/**
 * Incremental decoder: push chunks as they arrive (any split), get whole frames back. Limits are
 * checked from the 20-byte prefix, before any of the frame body is buffered.
 */
export class FrameDecoder {
  private readonly chunks: Buffer[] = [];
  private head = 0;
  private buffered = 0;
  private pending: Prefix | null = null;
  private readonly maxFrameBytes: number;
  private readonly maxHeaderBytes: number;
  private readonly counter?: FrameByteCounter;

  constructor(options: DecodeOptions = {}) {
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.maxHeaderBytes = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
    this.counter = options.counter;
  }

  /** Bytes received but not yet returned as frames. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  push(chunk: Uint8Array): DecodedFrame[] {
    if (chunk.length > 0) {
      this.chunks.push(asBuffer(chunk));
      this.buffered += chunk.length;
    }
    const out: DecodedFrame[] = [];
    for (;;) {
      if (!this.pending) {
        if (this.buffered < FRAME_PREFIX_BYTES) break;
        this.pending = this.parsePrefix(this.take(FRAME_PREFIX_BYTES));
      }
      const p = this.pending;
      if (this.buffered < p.headerBytes + p.wirePayloadBytes) break;
      this.pending = null;
      const header = this.take(p.headerBytes);
      out.push(this.decodeBody(p, header, this.takeViews(p.wirePayloadBytes)));
    }
    return out;
  }

  /** Call at end of input: leftover bytes mean the stream was cut mid-frame. */
  end(): void {
    if (this.pending || this.buffered > 0) {
      throw invalid(`Data stream ended inside a frame (${this.buffered} bytes left over); the sender was cut off, retry the transfer.`);
    }
  }

  private parsePrefix(b: Buffer): Prefix {
    if (b.readUInt16BE(0) !== FRAME_MAGIC) throw invalid('Not a Tandem data frame (bad magic); check that the peer is a Tandem agent.');
    const version = b.readUInt8(2);
    if (version !== FRAME_VERSION) {
      throw invalid(`Frame version ${version} is not supported (this agent speaks ${FRAME_VERSION}); upgrade the older agent.`);
    }
    const flags = b.readUInt8(4);
    if ((flags & ~KNOWN_FLAGS) !== 0 || b[5] !== 0 || b[6] !== 0 || b[7] !== 0) {
      throw invalid('Frame uses unknown flags or reserved bytes; upgrade this agent.');
    }
    const p: Prefix = {
      type: b.readUInt8(3),
      compressed: (flags & FLAG_COMPRESSED) !== 0,
      headerBytes: b.readUInt32BE(8),
      wirePayloadBytes: b.readUInt32BE(12),
      rawPayloadBytes: b.readUInt32BE(16),
    };
    const wire = FRAME_PREFIX_BYTES + p.headerBytes + p.wirePayloadBytes;
    const raw = FRAME_PREFIX_BYTES + p.headerBytes + p.rawPayloadBytes;
    if (wire > this.maxFrameBytes) throw tooLarge(wire, this.maxFrameBytes);
    if (raw > this.maxFrameBytes) throw tooLarge(raw, this.maxFrameBytes);
    if (p.headerBytes > this.maxHeaderBytes) {
      throw new TandemError('frame_too_large', `Frame header of ${p.headerBytes} bytes exceeds ${this.maxHeaderBytes}.`, 413);
    }
    if (!p.compressed && p.wirePayloadBytes !== p.rawPayloadBytes) throw invalid('Uncompressed frame with mismatched payload lengths.');
    return p;
  }

  private decodeBody(p: Prefix, headerBytes: Buffer, wireParts: Buffer[]): DecodedFrame {
    let header: unknown;
    try {
      header = JSON.parse(headerBytes.toString('utf8'));
    } catch {
      throw invalid('Frame header is not valid JSON.');
    }
    let parts = wireParts;
    if (p.compressed) {
      const wirePayload = joinPayload(wireParts, p.wirePayloadBytes);
      const payload = Buffer.allocUnsafe(p.rawPayloadBytes);
      parts = [payload];
      let written: number;
      try {
        // Decompressing into a buffer of the declared size bounds memory whatever the zstd stream claims.
        dctx ??= new zstd.DCtx();
        written = dctx.decompress(payload, wirePayload);
      } catch (err) {
        throw invalid(`Compressed frame payload is corrupt: ${(err as Error).message}.`);
      }
      if (written !== p.rawPayloadBytes) throw invalid('Compressed frame payload has the wrong uncompressed length.');
    }
    const wireBytes = FRAME_PREFIX_BYTES + p.headerBytes + p.wirePayloadBytes;
    const rawBytes = FRAME_PREFIX_BYTES + p.headerBytes + p.rawPayloadBytes;
    if (this.counter) {
      this.counter.frames++;
      this.counter.rawBytes += rawBytes;
      this.counter.wireBytes += wireBytes;
    }
    return new ReceivedFrame(p.type, header, parts, p.rawPayloadBytes, p.compressed, wireBytes, rawBytes);
  }

  /** Removes n buffered bytes; a view when they sit in one chunk, else one copy. */
  private take(n: number): Buffer {
    return joinPayload(this.takeViews(n), n);
  }

  /**
   * Removes n buffered bytes as views of the chunks they sit in, without copying: a 1 MiB data frame arrives in
   * 16 KiB TLS records, and joining them cost a copy into a fresh buffer per frame (page faults and garbage
   * collections for every megabyte received).
   */
  private takeViews(n: number): Buffer[] {
    const out: Buffer[] = [];
    this.buffered -= n;
    while (n > 0) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length - this.head, n);
      out.push(c.subarray(this.head, this.head + k));
      n -= k;
      this.head += k;
      if (this.head === c.length) {
        this.chunks.shift();
        this.head = 0;
      }
    }
    return out;
  }
}

/** A payload: one buffer, or the pieces it arrived in (views of consecutive network chunks). */
export type Payload = Buffer | readonly Buffer[];

export const payloadLength = (p: Payload): number => Buffer.isBuffer(p) ? p.length : p.reduce((n, b) => n + b.length, 0);

/** A payload in one buffer: itself, its only piece, or its pieces copied together. */
export function joinPayload(p: Payload, bytes = payloadLength(p)): Buffer {
  if (Buffer.isBuffer(p)) return p;
  if (p.length === 1) return p[0]!;
  return p.length === 0 ? Buffer.alloc(0) : Buffer.concat(p, bytes);
}

class ReceivedFrame implements DecodedFrame {
  private joined: Buffer | undefined = undefined;

  constructor(
    readonly type: number,
    readonly header: unknown,
    readonly payloadParts: readonly Buffer[],
    readonly payloadBytes: number,
    readonly compressed: boolean,
    readonly wireBytes: number,
    readonly rawBytes: number,
  ) {}

  get payload(): Buffer {
    return (this.joined ??= joinPayload(this.payloadParts, this.payloadBytes));
  }
}

/**
 * A decoded payload fit to be kept (queued, held for a batch): itself when it fills at least half of its memory
 * (the decoder assembled it from several chunks, or decompressed it), else a copy, so a small payload kept for
 * long does not pin the whole network chunk it arrived in. Saves copying every replicated byte a second time.
 */
export function detachPayload(payload: Buffer): Buffer {
  return payload.length * 2 >= payload.buffer.byteLength ? payload : Buffer.from(payload);
}

/** Decodes frames from a byte stream (e.g. an undici/fetch body or a Node request). */
export async function* decodeFrames(source: AsyncIterable<Uint8Array>, options: DecodeOptions = {}): AsyncGenerator<DecodedFrame> {
  const decoder = new FrameDecoder(options);
  for await (const chunk of source) yield* decoder.push(chunk);
  decoder.end();
}
