// Block delta planning: compares source and target block hashes and lists the byte ranges of
// the source file the target needs, plus the size the target file must end at.
import { TandemError } from '../errors';
import { BLOCK_DIGEST_BYTES, type BlockHashes } from './block-hash';
import { blockCount } from './block-size';
import type { ByteRange } from './ranges';

export interface BlockDeltaPlan {
  blockSize: number;
  /** Source byte ranges to read and send, sorted and merged; write each at the same offset on the target. */
  ranges: ByteRange[];
  /** Size the target file must have after the writes (truncate if longer; writes extend if shorter). */
  finalSize: number;
  /** True when the target is longer than the source and must be truncated to finalSize. */
  truncate: boolean;
  bytesToSend: number;
  changedBlocks: number;
  totalBlocks: number;
}

/**
 * Both hash lists must use the same block size (chosen from the source size). A block is sent
 * when the target lacks it or its digest differs; a short last block differs from a full one
 * because the digest covers its length.
 */
export function planBlockDelta(source: BlockHashes, target: BlockHashes): BlockDeltaPlan {
  if (source.blockSize !== target.blockSize) {
    throw new TandemError(
      'delta_block_size_mismatch',
      `Source hashed with ${source.blockSize}-byte blocks but target with ${target.blockSize}; rehash the target with the source's block size.`,
      400,
    );
  }
  const bs = source.blockSize;
  const nSource = blockCount(source.fileSize, bs);
  const nTarget = blockCount(target.fileSize, bs);
  const ranges: ByteRange[] = [];
  let changedBlocks = 0;
  let bytesToSend = 0;
  for (let i = 0; i < nSource; i++) {
    const d = i * BLOCK_DIGEST_BYTES;
    const same =
      i < nTarget && source.digests.compare(target.digests, d, d + BLOCK_DIGEST_BYTES, d, d + BLOCK_DIGEST_BYTES) === 0;
    if (same) continue;
    changedBlocks++;
    const offset = i * bs;
    const length = Math.min(bs, source.fileSize - offset);
    bytesToSend += length;
    const last = ranges[ranges.length - 1];
    // Blocks arrive in order, so merging with the previous range is enough.
    if (last && last.offset + last.length === offset) last.length += length;
    else ranges.push({ offset, length });
  }
  return {
    blockSize: bs,
    ranges,
    finalSize: source.fileSize,
    truncate: target.fileSize > source.fileSize,
    bytesToSend,
    changedBlocks,
    totalBlocks: nSource,
  };
}
