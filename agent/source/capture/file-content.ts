// Reads file content for the capture: whole new files as `file` chunks, or only the blocks that
// differ from the block index as `write` ops. Memory stays bounded by a few read buffers whatever
// the file size, because ops are handed on (and awaited) as they are produced.
import { open, type FileHandle } from 'node:fs/promises';
import { assertRegularFile, chooseBlockSize, hashBlocks, READ_NO_FOLLOW, type BlockHashes } from '../../../shared/delta';
import type { FileMeta } from '../../../shared/protocol/ops';
import { BlockDiffer, shouldRegrade } from './block-diff';
import { fileHashes, type FileHashes } from './tree-index';
import type { CapturedOp } from './types';
import { inodeKey } from './observe';

/** Largest payload of one `file` chunk or `write` op (fits a data frame). */
export const MAX_CHUNK_BYTES = 4 * 1024 * 1024;

/** Hands one op on; awaiting it is the backpressure that keeps memory bounded. */
export type EmitOp = (op: CapturedOp) => Promise<void>;

async function readFully(fh: FileHandle, buf: Buffer, position: number): Promise<number> {
  let filled = 0;
  while (filled < buf.length) {
    const { bytesRead } = await fh.read(buf, filled, buf.length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled;
}

/**
 * Opens `path` for reading, checking it is still a regular file, and the file `expectKey` (dev:ino) when given: a
 * path read a moment after it was looked at may by then name another file (renamed over it), whose content must not
 * be sent as this one's, or a FIFO or device. Either is reported as ENOENT: this file is gone from that path.
 */
async function openExpected(path: string, expectKey: string | undefined): Promise<{ fh: FileHandle; size: number }> {
  const fh = await open(path, READ_NO_FOLLOW);
  try {
    const st = await fh.stat({ bigint: true });
    assertRegularFile(st, path);
    if (expectKey !== undefined && inodeKey(st) !== expectKey) throw Object.assign(new Error(`${path} is now another file`), { code: 'ENOENT' });
    return { fh, size: Number(st.size) };
  } catch (err) {
    await fh.close();
    throw err;
  }
}

/**
 * Sends the file as `file` chunks of at most MAX_CHUNK_BYTES. Every chunk but the last carries the
 * size seen at open; the last has `final: true` and `size` = the bytes actually sent, which is the
 * file's length on the target (a file that changes while it is read is fixed up by the next event).
 */
export async function sendWholeFile(path: string, meta: FileMeta, emit: EmitOp, expectKey?: string): Promise<FileHashes> {
  const hashedAtMs = Date.now();
  const { fh, size } = await openExpected(path, expectKey);
  try {
    const blockSize = chooseBlockSize(size);
    const digests: Buffer[] = [];
    let offset = 0;
    for (;;) {
      const want = Math.min(MAX_CHUNK_BYTES, size - offset);
      const buf = Buffer.allocUnsafe(want);
      const n = await readFully(fh, buf, offset);
      const payload = buf.subarray(0, n);
      const final = n < want || offset + n >= size;
      digests.push(hashBlocks(payload, blockSize).digests);
      await emit({ op: { op: 'file', path, offset, final, size: final ? offset + n : size, meta }, payload });
      offset += n;
      if (final) break;
    }
    return fileHashes({ blockSize, fileSize: offset, digests: Buffer.concat(digests) }, hashedAtMs);
  } finally {
    await fh.close();
  }
}

/** Merges adjacent changed ranges into `write` ops of at most MAX_CHUNK_BYTES. */
class WriteCoalescer {
  private offset = 0;
  private parts: Buffer[] = [];
  private length = 0;
  /** End of the furthest write sent, to know whether the target grew past the new size. */
  maxEnd = 0;

  constructor(private readonly path: string, private readonly emit: EmitOp) {}

  async add(offset: number, data: Buffer): Promise<void> {
    if (this.length > 0 && (this.offset + this.length !== offset || this.length + data.length > MAX_CHUNK_BYTES)) {
      await this.flush();
    }
    if (this.length === 0) this.offset = offset;
    const last = this.parts.at(-1);
    if (last && last.buffer === data.buffer && last.byteOffset + last.length === data.byteOffset) {
      // The next block of the same read buffer (an append, a rewritten region): widen the view, copy nothing.
      this.parts[this.parts.length - 1] = Buffer.from(last.buffer, last.byteOffset, last.length + data.length);
    } else {
      this.parts.push(data);
    }
    this.length += data.length;
  }

  async flush(): Promise<void> {
    if (this.length === 0) return;
    const only = this.parts.length === 1 ? this.parts[0]! : null;
    // One view that is most of its read buffer goes out as it is; a small one is copied, so the queue does not
    // keep a whole 4 MiB read buffer alive for a few changed blocks.
    const payload = only && only.length * 2 >= only.buffer.byteLength ? only : Buffer.concat(this.parts, this.length);
    const offset = this.offset;
    this.maxEnd = Math.max(this.maxEnd, offset + this.length);
    this.parts = [];
    this.length = 0;
    await this.emit({ op: { op: 'write', path: this.path, offset }, payload });
  }
}

export interface SendChangesOptions {
  /**
   * Files at least this large that only grew are compared from their old last block on: the
   * appended bytes go out at once and the caller re-verifies the whole file later (see
   * ChangeCaptureOptions.largeFileTailBytes). Infinity always compares everything.
   */
  tailMinBytes?: number;
  /** The file (dev:ino) meant: another file now at the path is reported as ENOENT, not read. */
  expectKey?: string;
}

export interface SendChangesResult {
  hashes: FileHashes;
  /** True when only the tail was compared; the caller should schedule a full comparison. */
  tailOnly: boolean;
  bytesSent: number;
}

/**
 * Sends what changed since `old`: `truncate` first if the file shrank, then `write` ops for the
 * changed blocks (an append starts exactly at the old size), then a final `truncate` if the file
 * shrank while it was being read. Reads up to the size seen at open; growth after that is the next
 * event's business.
 */
export async function sendFileChanges(
  path: string, old: FileHashes, emit: EmitOp, options: SendChangesOptions = {},
): Promise<SendChangesResult> {
  const hashedAtMs = Date.now();
  const { fh, size } = await openExpected(path, options.expectKey);
  try {
    const ideal = chooseBlockSize(size);
    // A tail-only pass keeps the block size even when the file has outgrown it: re-picking it means re-reading
    // the whole file, which the full comparison that follows a tail-only pass does anyway.
    const tailOnly = size > old.fileSize && old.fileSize >= (options.tailMinBytes ?? Infinity);
    const regrade = !tailOnly && shouldRegrade(old.blockSize, ideal);
    const bs = old.blockSize;
    const startOffset = tailOnly ? Math.floor(old.fileSize / bs) * bs : 0;
    let targetSize = old.fileSize;
    if (size < targetSize) {
      await emit({ op: { op: 'truncate', path, size } });
      targetSize = size;
    }
    const differ = new BlockDiffer(old, { newBlockSize: regrade ? ideal : bs, startOffset });
    const writer = new WriteCoalescer(path, emit);
    let bytesSent = 0;
    let pos = startOffset;
    while (pos < size) {
      const want = Math.min(MAX_CHUNK_BYTES, size - pos);
      const buf = Buffer.allocUnsafe(want);
      const n = await readFully(fh, buf, pos);
      if (n === 0) break;
      for (const c of differ.push(buf.subarray(0, n))) {
        bytesSent += c.data.length;
        await writer.add(c.offset, c.data);
      }
      pos += n;
      if (n < want) break;
    }
    await writer.flush();
    targetSize = Math.max(targetSize, writer.maxEnd);
    if (targetSize > pos) await emit({ op: { op: 'truncate', path, size: pos } });
    const hashes: BlockHashes = differ.finish();
    return { hashes: fileHashes(hashes, hashedAtMs), tailOnly, bytesSent };
  } finally {
    await fh.close();
  }
}
