// Per-block strong hashes for block-checksum mirroring (manual 2.10): both sides hash with the
// same block size and the planner sends only blocks whose hashes differ.
import crypto from 'node:crypto';
import { TandemError } from '../errors';
import { blockCount } from './block-size';

/**
 * SHA-256 truncated to 128 bits: SHA-256 is the fastest strong hash in node:crypto on CPUs with
 * SHA extensions (faster than BLAKE2 and MD5 here), and 128 bits keeps accidental collisions out
 * of reach while halving the hash list sent over the wire.
 */
export const BLOCK_DIGEST_BYTES = 16;

export interface BlockHashes {
  blockSize: number;
  fileSize: number;
  /** blockCount(fileSize, blockSize) digests of BLOCK_DIGEST_BYTES each, concatenated (wire-ready). */
  digests: Buffer;
}

/**
 * One-shot hashing (Node >= 20.12) skips creating a Hash object per block: 1.1-1.4x the throughput of
 * createHash for 4 KiB blocks and ~1.07x for 32-64 KiB ones on this project's benchmark machine.
 */
const oneShot = typeof crypto.hash === 'function';

export function digestBlock(block: Uint8Array): Buffer {
  const full = oneShot ? crypto.hash('sha256', block, 'buffer') : crypto.createHash('sha256').update(block).digest();
  return full.subarray(0, BLOCK_DIGEST_BYTES);
}

function assertBlockSize(blockSize: number): void {
  if (!Number.isInteger(blockSize) || blockSize <= 0) {
    throw new TandemError('delta_block_size_invalid', `Block size ${blockSize} must be a positive integer.`, 400);
  }
}

/** Hashes an in-memory buffer block by block. */
export function hashBlocks(data: Uint8Array, blockSize: number): BlockHashes {
  assertBlockSize(blockSize);
  const n = blockCount(data.length, blockSize);
  const digests = Buffer.allocUnsafe(n * BLOCK_DIGEST_BYTES);
  for (let i = 0; i < n; i++) {
    digestBlock(data.subarray(i * blockSize, (i + 1) * blockSize)).copy(digests, i * BLOCK_DIGEST_BYTES);
  }
  return { blockSize, fileSize: data.length, digests };
}

/**
 * Hashes a stream of chunks of any size (a file read stream, an HTTP body) holding at most one
 * block of carry-over in memory, plus the digest list.
 */
export async function hashBlocksStreaming(source: AsyncIterable<Uint8Array>, blockSize: number): Promise<BlockHashes> {
  assertBlockSize(blockSize);
  const parts: Buffer[] = [];
  const carry = Buffer.allocUnsafe(blockSize);
  let carryLen = 0;
  let fileSize = 0;
  for await (const chunk of source) {
    fileSize += chunk.length;
    let pos = 0;
    if (carryLen > 0) {
      const take = Math.min(blockSize - carryLen, chunk.length);
      carry.set(chunk.subarray(0, take), carryLen);
      carryLen += take;
      pos = take;
      if (carryLen < blockSize) continue;
      parts.push(digestBlock(carry));
      carryLen = 0;
    }
    // Whole blocks straight from the chunk, no copy.
    for (; pos + blockSize <= chunk.length; pos += blockSize) parts.push(digestBlock(chunk.subarray(pos, pos + blockSize)));
    if (pos < chunk.length) {
      carry.set(chunk.subarray(pos), 0);
      carryLen = chunk.length - pos;
    }
  }
  if (carryLen > 0) parts.push(digestBlock(carry.subarray(0, carryLen)));
  return { blockSize, fileSize, digests: Buffer.concat(parts, parts.length * BLOCK_DIGEST_BYTES) };
}

/** Digest of block i, a view into hashes.digests. */
export function blockDigestAt(hashes: BlockHashes, index: number): Buffer {
  return hashes.digests.subarray(index * BLOCK_DIGEST_BYTES, (index + 1) * BLOCK_DIGEST_BYTES);
}
