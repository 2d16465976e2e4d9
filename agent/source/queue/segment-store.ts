// The on-disk part of the queue: append-only segment files named by their first sequence number.
// Records are never held in memory here; only a sparse index (one checkpoint per ~64 KB) is kept per segment.
import { open, readdir, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { TandemError } from '../../../shared/errors';
import { checkPrefix, decodeRecord, peekSeqAndTime, PREFIX_BYTES, verifyChecksum } from './record-codec';
import { fsyncDir } from './state-file';
import type { QueuedRecord } from './types';

const SEGMENT_NAME = /^seg-(\d{16})\.tq$/;
const CHECKPOINT_EVERY_BYTES = 64 * 1024;
const READ_CHUNK_BYTES = 256 * 1024;
/** seq + enqueuedAt, right after the prefix. */
const SEQ_AND_TIME_BYTES = 16;

export function segmentFileName(firstSeq: number): string {
  return `seg-${String(firstSeq).padStart(16, '0')}.tq`;
}

interface Checkpoint {
  seq: number;
  offset: number;
}

interface Segment {
  firstSeq: number;
  /** Seqs inside one segment are contiguous: firstSeq..lastSeq. */
  lastSeq: number;
  /** Bytes of complete records; the file is never longer than this once written or recovered. */
  size: number;
  path: string;
  checkpoints: Checkpoint[];
  /** Open only for the segment currently taking appends. */
  fh?: FileHandle;
}

/** What the start-up scan of the segment files found. */
export interface SegmentScan {
  truncatedBytes: number;
  /** Segment files (or tails of them) cut because a record was torn or failed its checksum. */
  damaged: Array<{ file: string; offset: number; why: string }>;
}

/** A record ready to be written: its seq and its encoded bytes. */
export interface EncodedRecord {
  seq: number;
  bytes: Buffer;
}

export class SegmentStore {
  private segments: Segment[] = [];
  /** The segment appends go to; always the last one. Null until the first append after open or a full drain. */
  private active: Segment | null = null;
  private unsyncedBytes = 0;
  private dirDirty = false;
  /** Where the previous `read` stopped, so a sender streaming forward does not rescan from a checkpoint. */
  private readCursor: { seq: number; segment: Segment; offset: number } | null = null;

  private constructor(
    readonly dir: string,
    private readonly segmentBytes: number,
  ) {}

  /**
   * Opens the segment files in `dir`: verifies every record, cuts a torn or corrupt tail, and deletes
   * segments that are empty or wholly at or below `ackedSeq`.
   */
  static async open(dir: string, segmentBytes: number, ackedSeq: number): Promise<{ store: SegmentStore; scan: SegmentScan }> {
    const store = new SegmentStore(dir, segmentBytes);
    const scan: SegmentScan = { truncatedBytes: 0, damaged: [] };
    const names = (await readdir(dir)).filter((n) => SEGMENT_NAME.test(n)).sort();
    for (const name of names) {
      const firstSeq = Number(SEGMENT_NAME.exec(name)![1]);
      const segment = await recoverSegment(join(dir, name), firstSeq, scan);
      const previous = store.segments.at(-1);
      const stale = segment === null || segment.lastSeq <= ackedSeq;
      if (!stale && previous && segment.firstSeq <= previous.lastSeq) {
        throw new TandemError(
          'queue_corrupt',
          `queue segment ${name} overlaps the previous segment; stop the agent, delete ${dir} and remirror the job`,
          500,
        );
      }
      if (stale) {
        await unlink(join(dir, name));
        store.dirDirty = true;
      } else {
        store.segments.push(segment);
      }
    }
    if (store.dirDirty) await store.sync();
    return { store, scan };
  }

  /** Total bytes of segment files. */
  get bytes(): number {
    let total = 0;
    for (const s of this.segments) total += s.size;
    return total;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  get firstSeq(): number | null {
    return this.segments[0]?.firstSeq ?? null;
  }

  get lastSeq(): number | null {
    return this.segments.at(-1)?.lastSeq ?? null;
  }

  /** Records with seq > ackedSeq. */
  unackedCount(ackedSeq: number): number {
    let n = 0;
    for (const s of this.segments) {
      if (s.lastSeq > ackedSeq) n += s.lastSeq - Math.max(s.firstSeq - 1, ackedSeq);
    }
    return n;
  }

  /** The first run of missing seqs above `ackedSeq` between segments, and the last seq reached without a gap. */
  coverage(ackedSeq: number): { gap: { from: number; to: number } | null; contiguousThrough: number } {
    let expected = ackedSeq + 1;
    for (const s of this.segments) {
      if (s.lastSeq <= ackedSeq) continue;
      const start = Math.max(s.firstSeq, ackedSeq + 1);
      if (start !== expected) return { gap: { from: expected, to: start - 1 }, contiguousThrough: expected - 1 };
      expected = s.lastSeq + 1;
    }
    return { gap: null, contiguousThrough: expected - 1 };
  }

  /** Appends one record; rolls to a new segment when the current one would pass `segmentBytes`. */
  async append(record: EncodedRecord): Promise<void> {
    let seg = this.active;
    if (!seg || (seg.size > 0 && seg.size + record.bytes.length > this.segmentBytes)) {
      seg = await this.startSegment(record.seq);
    }
    if (seg.size > 0 && record.seq !== seg.lastSeq + 1) {
      throw new Error(`queue append out of order: seq ${record.seq} after ${seg.lastSeq}`);
    }
    try {
      await writeFully(seg.fh!, record.bytes, seg.size);
    } catch (err) {
      // Leave no partial record behind for the next append to sit after.
      await seg.fh!.truncate(seg.size).catch(() => undefined);
      throw err;
    }
    addRecord(seg, record.seq, record.bytes.length);
    this.unsyncedBytes += record.bytes.length;
  }

  /**
   * Writes records that all come before every segment already present (the memory queue saved at
   * shutdown) into new, synced segment files.
   */
  async prepend(records: EncodedRecord[]): Promise<void> {
    if (records.length === 0) return;
    const first = this.segments[0];
    if (first && records.at(-1)!.seq >= first.firstSeq) throw new Error('queue prepend would break seq order');
    const created: Segment[] = [];
    let seg: Segment | null = null;
    for (const r of records) {
      if (!seg || (seg.size > 0 && seg.size + r.bytes.length > this.segmentBytes)) {
        if (seg) await closeSynced(seg);
        seg = await createSegmentFile(this.dir, r.seq);
        created.push(seg);
      }
      await writeFully(seg.fh!, r.bytes, seg.size);
      addRecord(seg, r.seq, r.bytes.length);
    }
    if (seg) await closeSynced(seg);
    this.segments.unshift(...created);
    this.dirDirty = true;
    await this.sync();
  }

  /** fsyncs unsynced appends and any segment created or deleted since the last sync. */
  async sync(): Promise<void> {
    if (this.active?.fh && this.unsyncedBytes > 0) await this.active.fh.sync();
    this.unsyncedBytes = 0;
    if (this.dirDirty) {
      await fsyncDir(this.dir);
      this.dirDirty = false;
    }
  }

  get pendingSyncBytes(): number {
    return this.unsyncedBytes;
  }

  /**
   * Records from `fromSeq` (or the first one after it), in order, until adding the next would pass
   * `maxBytes` of encoded size. With `atLeastOne` the first record is returned whatever its size.
   */
  async read(fromSeq: number, maxBytes: number, atLeastOne: boolean): Promise<QueuedRecord[]> {
    const out: QueuedRecord[] = [];
    let budget = maxBytes;
    let index = this.segmentIndexFor(fromSeq);
    while (index < this.segments.length) {
      const seg = this.segments[index]!;
      const reader = await SegmentReader.open(seg);
      try {
        let offset = fromSeq > seg.firstSeq ? await this.offsetOf(seg, reader, fromSeq) : 0;
        let seq = Math.max(fromSeq, seg.firstSeq);
        while (offset < seg.size) {
          const prefix = await reader.bytes(offset, PREFIX_BYTES);
          const check = checkPrefix(prefix.buf, prefix.off);
          if (check.kind !== 'ok') throw damagedSegment(seg, offset, 'record prefix');
          if (check.recordBytes > budget && !(atLeastOne && out.length === 0)) {
            this.readCursor = { seq, segment: seg, offset };
            return out;
          }
          seq++;
          const whole = await reader.bytes(offset, check.recordBytes);
          const decoded = decodeRecord(whole.buf, whole.off);
          if (decoded.kind !== 'ok') throw damagedSegment(seg, offset, decoded.kind === 'corrupt' ? decoded.why : 'short read');
          out.push(decoded.record);
          budget -= check.recordBytes;
          offset += check.recordBytes;
        }
      } finally {
        await reader.close();
      }
      index++;
      fromSeq = seg.lastSeq + 1;
    }
    // Caught up: the next read is most likely for the next record appended to the last segment.
    const last = this.segments.at(-1);
    this.readCursor = last ? { seq: last.lastSeq + 1, segment: last, offset: last.size } : null;
    return out;
  }

  /** enqueuedAt of the record `seq`, or null when no segment holds it. */
  async enqueuedAtOf(seq: number): Promise<number | null> {
    const seg = this.segments[this.segmentIndexFor(seq)];
    if (!seg || seq < seg.firstSeq || seq > seg.lastSeq) return null;
    const reader = await SegmentReader.open(seg);
    try {
      const offset = await this.offsetOf(seg, reader, seq);
      const head = await reader.bytes(offset, PREFIX_BYTES + SEQ_AND_TIME_BYTES);
      return peekSeqAndTime(head.buf, head.off).enqueuedAt;
    } finally {
      await reader.close();
    }
  }

  /** How many segments `dropThrough(seq)` would delete. */
  droppableCount(seq: number): number {
    return this.segments.filter((s) => s.lastSeq <= seq).length;
  }

  /** Deletes every segment whose records are all at or below `seq`; returns bytes freed. */
  async dropThrough(seq: number): Promise<number> {
    let freed = 0;
    while (this.segments.length > 0 && this.segments[0]!.lastSeq <= seq) {
      const seg = this.segments.shift()!;
      await this.forget(seg);
      await unlink(seg.path);
      freed += seg.size;
    }
    if (freed > 0) {
      this.dirDirty = true;
      await this.sync();
    }
    return freed;
  }

  /** Deletes every segment file. */
  async removeAll(): Promise<void> {
    await this.dropThrough(Number.MAX_SAFE_INTEGER);
  }

  async close(): Promise<void> {
    await this.sync();
    if (this.active) await this.forget(this.active);
  }

  private async forget(seg: Segment): Promise<void> {
    if (this.readCursor?.segment === seg) this.readCursor = null;
    if (seg === this.active) {
      this.active = null;
      this.unsyncedBytes = 0;
    }
    if (seg.fh) {
      await seg.fh.close();
      seg.fh = undefined;
    }
  }

  private async startSegment(firstSeq: number): Promise<Segment> {
    if (this.active) {
      await this.sync(); // a sealed segment is always durable
      await this.forget(this.active);
    }
    const seg = await createSegmentFile(this.dir, firstSeq);
    this.segments.push(seg);
    this.active = seg;
    this.dirDirty = true;
    return seg;
  }

  /** Index of the last segment starting at or before `seq` (0 when `seq` is before them all). */
  private segmentIndexFor(seq: number): number {
    let lo = 0;
    let hi = this.segments.length - 1;
    let found = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.segments[mid]!.firstSeq <= seq) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  /** Byte offset of record `seq` in `seg` (or of the segment end when past it). */
  private async offsetOf(seg: Segment, reader: SegmentReader, seq: number): Promise<number> {
    const cursor = this.readCursor;
    if (cursor && cursor.segment === seg && cursor.seq === seq) return cursor.offset;
    if (seq > seg.lastSeq) return seg.size;
    let cp: Checkpoint = seg.checkpoints[0]!;
    for (const c of seg.checkpoints) {
      if (c.seq > seq) break;
      cp = c;
    }
    let offset = cp.offset;
    for (let at = cp.seq; at < seq; at++) {
      const prefix = await reader.bytes(offset, PREFIX_BYTES);
      const check = checkPrefix(prefix.buf, prefix.off);
      if (check.kind !== 'ok') throw damagedSegment(seg, offset, 'record prefix');
      offset += check.recordBytes;
    }
    return offset;
  }
}

function addRecord(seg: Segment, seq: number, bytes: number): void {
  const lastCheckpoint = seg.checkpoints.at(-1);
  if (!lastCheckpoint || seg.size - lastCheckpoint.offset >= CHECKPOINT_EVERY_BYTES) {
    seg.checkpoints.push({ seq, offset: seg.size });
  }
  if (seg.size === 0) seg.firstSeq = seq;
  seg.lastSeq = seq;
  seg.size += bytes;
}

async function createSegmentFile(dir: string, firstSeq: number): Promise<Segment> {
  const path = join(dir, segmentFileName(firstSeq));
  const fh = await open(path, 'wx+');
  return { firstSeq, lastSeq: firstSeq - 1, size: 0, path, checkpoints: [], fh };
}

async function closeSynced(seg: Segment): Promise<void> {
  await seg.fh!.sync();
  await seg.fh!.close();
  seg.fh = undefined;
}

async function writeFully(fh: FileHandle, bytes: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await fh.write(bytes, done, bytes.length - done, position + done);
    done += bytesWritten;
  }
}

function damagedSegment(seg: Segment, offset: number, what: string): TandemError {
  return new TandemError(
    'queue_io_error',
    `queue segment ${seg.path} is damaged at byte ${offset} (${what}); the job needs a remirror`,
    500,
  );
}

/**
 * Scans one segment file record by record. Everything from the first torn, corrupt or out-of-sequence
 * record on is cut off. Returns null when no valid record is left.
 */
async function recoverSegment(path: string, firstSeq: number, scan: SegmentScan): Promise<Segment | null> {
  const fh = await open(path, 'r+');
  try {
    const fileSize = (await fh.stat()).size;
    const seg: Segment = { firstSeq, lastSeq: firstSeq - 1, size: 0, path, checkpoints: [] };
    const reader = new SegmentReader(fh, fileSize, false);
    let why: string | null = null;
    while (seg.size < fileSize) {
      const offset = seg.size;
      const prefix = await reader.bytes(offset, PREFIX_BYTES).catch(() => null);
      if (!prefix) { why = 'torn record'; break; }
      const check = checkPrefix(prefix.buf, prefix.off);
      if (check.kind !== 'ok') { why = check.kind === 'corrupt' ? check.why : 'torn record'; break; }
      if (offset + check.recordBytes > fileSize) { why = 'torn record'; break; }
      const whole = await reader.bytes(offset, check.recordBytes);
      if (!verifyChecksum(whole.buf, whole.off, check.recordBytes)) { why = 'checksum mismatch'; break; }
      const { seq } = peekSeqAndTime(whole.buf, whole.off);
      if (seq !== seg.lastSeq + 1) { why = `sequence ${seq} where ${seg.lastSeq + 1} was expected`; break; }
      addRecord(seg, seq, check.recordBytes);
    }
    if (why !== null) {
      scan.damaged.push({ file: path, offset: seg.size, why });
      scan.truncatedBytes += fileSize - seg.size;
      await fh.truncate(seg.size);
      await fh.sync();
    }
    return seg.size > 0 ? seg : null;
  } finally {
    await fh.close();
  }
}

/** Buffered positional reads over a segment's complete records. */
class SegmentReader {
  private buf: Buffer = Buffer.alloc(0);
  private bufStart = 0;

  constructor(
    private readonly fh: FileHandle,
    private readonly end: number,
    private readonly ownsHandle: boolean,
  ) {}

  static async open(seg: Segment): Promise<SegmentReader> {
    if (seg.fh) return new SegmentReader(seg.fh, seg.size, false);
    return new SegmentReader(await open(seg.path, 'r'), seg.size, true);
  }

  /** Bytes [pos, pos+len) as a view into a buffer; throws if they are not all in the file. */
  async bytes(pos: number, len: number): Promise<{ buf: Buffer; off: number }> {
    if (pos >= this.bufStart && pos + len <= this.bufStart + this.buf.length) {
      return { buf: this.buf, off: pos - this.bufStart };
    }
    if (pos + len > this.end) throw new RangeError(`read past end of segment (${pos + len} > ${this.end})`);
    const size = Math.min(Math.max(len, READ_CHUNK_BYTES), this.end - pos);
    const buf = Buffer.allocUnsafe(size);
    let got = 0;
    while (got < size) {
      const { bytesRead } = await this.fh.read(buf, got, size - got, pos + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    if (got < len) throw new RangeError(`short read in segment (${got} of ${len} bytes)`);
    this.buf = buf.subarray(0, got);
    this.bufStart = pos;
    return { buf: this.buf, off: 0 };
  }

  async close(): Promise<void> {
    if (this.ownsHandle) await this.fh.close();
  }
}
