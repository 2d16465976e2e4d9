// A file's block index as the capture keeps it, and the binary form earlier versions stored it in ('TBH1',
// blockSize u32, fileSize f64, hashedAtMs f64, then the digests), read once when their index is imported.
import { BLOCK_DIGEST_BYTES, blockCount, type BlockHashes } from '../../../shared/delta';

/** Block hashes of a file's content as last sent, and when that read started (for the racy-mtime check). */
export interface FileHashes extends BlockHashes {
  hashedAtMs: number;
}

/** Block hashes in one object shape (every FileHashes has the same V8 hidden class). */
export function fileHashes(h: BlockHashes, hashedAtMs: number): FileHashes {
  return { blockSize: h.blockSize, fileSize: h.fileSize, digests: h.digests, hashedAtMs };
}

export const HASH_MAGIC = 'TBH1';
export const HASH_HEADER_BYTES = 24;

/** Returns undefined for a torn or foreign file, which then simply counts as "no index". */
export function decodeHashes(buf: Buffer): FileHashes | undefined {
  if (buf.length < HASH_HEADER_BYTES || buf.toString('latin1', 0, 4) !== HASH_MAGIC) return undefined;
  const blockSize = buf.readUInt32LE(4);
  const fileSize = buf.readDoubleLE(8);
  const hashedAtMs = buf.readDoubleLE(16);
  if (blockSize === 0 || !Number.isInteger(fileSize) || fileSize < 0) return undefined;
  if (buf.length !== HASH_HEADER_BYTES + blockCount(fileSize, blockSize) * BLOCK_DIGEST_BYTES) return undefined;
  return fileHashes({ blockSize, fileSize, digests: Buffer.from(buf.subarray(HASH_HEADER_BYTES)) }, hashedAtMs);
}
