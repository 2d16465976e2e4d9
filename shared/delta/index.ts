// Block-checksum delta: block size choice, block hashing, delta plans and byte ranges.
export { chooseBlockSize, blockCount, MIN_BLOCK_SIZE, MAX_BLOCK_SIZE } from './block-size';
export {
  BLOCK_DIGEST_BYTES, type BlockHashes, digestBlock, hashBlocks, hashBlocksStreaming, blockDigestAt,
} from './block-hash';
export { assertRegularFile, hashFile, READ_NO_FOLLOW, type HashFileOptions } from './file-hasher';
export { planBlockDelta, type BlockDeltaPlan } from './plan';
export { mergeRanges, splitRanges, totalBytes, type ByteRange } from './ranges';
