// Pure streaming comparison of a file's current content with its block index: which byte ranges
// changed since the last send, and the new index. Fed aligned chunks by the file reader.
import {
  BLOCK_DIGEST_BYTES, blockCount, blockDigestAt, digestBlock, type BlockHashes,
} from '../../../shared/delta';

export interface ChangedBytes {
  offset: number;
  /** View into the chunk passed to push(); copy it if the chunk buffer is reused. */
  data: Buffer;
}

export interface BlockDiffOptions {
  /** Block size for the new index; defaults to the old one (see shouldRegrade). */
  newBlockSize?: number;
  /**
   * Skip comparing the blocks before this offset and keep their old digests (append fast path for
   * large files). Must be a multiple of the old block size, and the block size must not change.
   */
  startOffset?: number;
}

/** Re-pick the index block size only when the file has grown or shrunk far enough to matter (4x). */
export function shouldRegrade(oldBlockSize: number, idealBlockSize: number): boolean {
  return idealBlockSize >= oldBlockSize * 4 || idealBlockSize * 4 <= oldBlockSize;
}

/**
 * Compares content chunk by chunk against `old`. Chunks must be pushed in order, start at
 * `startOffset` (default 0) and, except the last, be a multiple of both block sizes long.
 *
 * An append leaves the old last, partial block's prefix intact; that prefix is re-hashed and
 * compared with the old digest, so only the bytes after the old end are reported as changed.
 */
export class BlockDiffer {
  readonly oldBlockSize: number;
  readonly newBlockSize: number;
  private readonly oldBlocks: number;
  private readonly newDigests: Buffer[] = [];
  private pos: number;

  constructor(private readonly old: BlockHashes, options: BlockDiffOptions = {}) {
    this.oldBlockSize = old.blockSize;
    this.newBlockSize = options.newBlockSize ?? old.blockSize;
    this.oldBlocks = blockCount(old.fileSize, old.blockSize);
    this.pos = options.startOffset ?? 0;
    if (this.pos > 0) {
      if (this.newBlockSize !== this.oldBlockSize || this.pos % this.oldBlockSize !== 0 || this.pos > old.fileSize) {
        throw new RangeError('startOffset needs an unchanged block size, block alignment and a position inside the old file');
      }
      this.newDigests.push(old.digests.subarray(0, (this.pos / this.oldBlockSize) * BLOCK_DIGEST_BYTES));
    }
  }

  /** Position the next chunk must start at (also the number of bytes compared so far). */
  get offset(): number {
    return this.pos;
  }

  /** Compares one chunk; returns the changed byte ranges within it, in order. */
  push(chunk: Buffer): ChangedBytes[] {
    const bs = this.oldBlockSize;
    const changed: ChangedBytes[] = [];
    for (let at = 0; at < chunk.length; at += bs) {
      const block = chunk.subarray(at, at + bs);
      const offset = this.pos + at;
      const i = offset / bs;
      const digest = digestBlock(block);
      if (this.newBlockSize === bs) this.newDigests.push(digest);
      if (i >= this.oldBlocks) {
        changed.push({ offset, data: block });
        continue;
      }
      const oldDigest = blockDigestAt(this.old, i);
      if (digest.equals(oldDigest)) continue;
      const oldLen = Math.min(bs, this.old.fileSize - offset);
      if (oldLen < block.length && digestBlock(block.subarray(0, oldLen)).equals(oldDigest)) {
        changed.push({ offset: offset + oldLen, data: block.subarray(oldLen) });
      } else {
        changed.push({ offset, data: block });
      }
    }
    if (this.newBlockSize !== bs) {
      for (let at = 0; at < chunk.length; at += this.newBlockSize) {
        this.newDigests.push(digestBlock(chunk.subarray(at, at + this.newBlockSize)));
      }
    }
    this.pos += chunk.length;
    return changed;
  }

  /** The index for the content compared (file size = bytes pushed, including a skipped prefix). */
  finish(): BlockHashes {
    return {
      blockSize: this.newBlockSize,
      fileSize: this.pos,
      digests: Buffer.concat(this.newDigests),
    };
  }
}
