// Block hashes of a file on disk with bounded memory: one reusable read buffer of a few MiB,
// whatever the file size. This is the only delta module that touches the disk.
import { open } from 'node:fs/promises';
import { BLOCK_DIGEST_BYTES, digestBlock, type BlockHashes } from './block-hash';
import { chooseBlockSize } from './block-size';

const DEFAULT_READ_BYTES = 4 * 1024 * 1024;

export interface HashFileOptions {
  /** Defaults to chooseBlockSize(size at open). Pass the source's block size when hashing the target copy. */
  blockSize?: number;
  /** Read buffer size; rounded down to whole blocks (at least one). */
  readBytes?: number;
  signal?: AbortSignal;
}

/**
 * Hashes the file as it is read; if it grows or shrinks meanwhile, fileSize reports the bytes
 * actually hashed, so the plan matches what was seen rather than a stale stat.
 */
export async function hashFile(path: string, options: HashFileOptions = {}): Promise<BlockHashes> {
  const fh = await open(path, 'r');
  try {
    const blockSize = options.blockSize ?? chooseBlockSize((await fh.stat()).size);
    const blocksPerRead = Math.max(1, Math.floor((options.readBytes ?? DEFAULT_READ_BYTES) / blockSize));
    const buf = Buffer.allocUnsafe(blocksPerRead * blockSize);
    const parts: Buffer[] = [];
    let fileSize = 0;
    for (;;) {
      options.signal?.throwIfAborted();
      // Fill the buffer completely (short reads happen) so blocks stay aligned to blockSize.
      let filled = 0;
      while (filled < buf.length) {
        const { bytesRead } = await fh.read(buf, filled, buf.length - filled, fileSize + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      for (let pos = 0; pos < filled; pos += blockSize) {
        parts.push(digestBlock(buf.subarray(pos, Math.min(pos + blockSize, filled))));
      }
      fileSize += filled;
      if (filled < buf.length) break;
    }
    return { blockSize, fileSize, digests: Buffer.concat(parts, parts.length * BLOCK_DIGEST_BYTES) };
  } finally {
    await fh.close();
  }
}
