// Block size for block-checksum mirroring: both sides must hash with the same size, so it is
// chosen once from the source file's size and sent along with the hash request.

export const MIN_BLOCK_SIZE = 4 * 1024;
export const MAX_BLOCK_SIZE = 1024 * 1024;

/**
 * The power of two at or above sqrt(fileSize), clamped to 4 KiB..1 MiB. Like rsync, sqrt
 * keeps the hash list (blocks × 16 bytes) and the resend granularity in balance: a 16 MiB
 * file uses 4 KiB blocks (4096 hashes), 1 GiB uses 32 KiB (32768 hashes, 512 KiB of hashes),
 * 1 TiB and above use 1 MiB. Powers of two keep blocks aligned with pages and disk sectors.
 */
export function chooseBlockSize(fileSize: number): number {
  if (!Number.isFinite(fileSize) || fileSize <= MIN_BLOCK_SIZE * MIN_BLOCK_SIZE) return MIN_BLOCK_SIZE;
  const pow2 = 2 ** Math.ceil(Math.log2(Math.sqrt(fileSize)));
  return Math.min(MAX_BLOCK_SIZE, Math.max(MIN_BLOCK_SIZE, pow2));
}

/** Number of blocks a file of this size splits into (the last one may be short). */
export function blockCount(fileSize: number, blockSize: number): number {
  return Math.ceil(fileSize / blockSize);
}
