// Block hashes of a file on disk with bounded memory: one read buffer of at most a few MiB, whatever the file
// size, and none per file for small files. This is the only delta module that touches the disk.
import { closeSync, constants, fstatSync, openSync, read, readSync } from 'node:fs';
import { BLOCK_DIGEST_BYTES, digestBlock, type BlockHashes } from './block-hash';
import { chooseBlockSize } from './block-size';

/**
 * Flags for reading a protected file: never through a symlink put where the file was (it may point anywhere on this
 * machine); the open fails with ELOOP instead, which the readers take as the file gone from that path. Never
 * waiting either: a FIFO put where the file was would otherwise hold the open until some process wrote to it (on
 * the main thread, the whole agent). The flag changes nothing for a regular file; the reader checks what it opened
 * with `assertRegularFile`.
 */
export const READ_NO_FOLLOW = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/**
 * Throws unless the object opened at `path` is a regular file: a FIFO, socket or device put where the file was is
 * never read as its content. The error has code ENOENT, which every reader takes as "the file is gone from that
 * path" (change capture then sees the new object for what it is).
 */
export function assertRegularFile(st: { isFile(): boolean }, path: string): void {
  if (!st.isFile()) throw Object.assign(new Error(`${path} is no longer a regular file`), { code: 'ENOENT' });
}

const DEFAULT_READ_BYTES = 4 * 1024 * 1024;
/**
 * Files whose read buffer would be at most this large are read synchronously into one shared scratch buffer:
 * a page-cache copy of a few KiB costs less than a trip through the thread pool, and a fresh buffer per file (it
 * was 4 MiB, even for a 100-byte file) made V8 run a full collection every few dozen files.
 */
const SYNC_READ_BYTES = 256 * 1024;
let scratch: Buffer | undefined;

export interface HashFileOptions {
  /** Defaults to chooseBlockSize(size at open). Pass the source's block size when hashing the target copy. */
  blockSize?: number;
  /** Read buffer size; rounded down to whole blocks (at least one). */
  readBytes?: number;
  signal?: AbortSignal;
}

const readAsync = (fd: number, buf: Buffer, offset: number, length: number, position: number) =>
  new Promise<number>((resolve, reject) => read(fd, buf, offset, length, position, (err, n) => (err ? reject(err) : resolve(n))));

/**
 * Hashes the file as it is read; if it grows or shrinks meanwhile, fileSize reports the bytes
 * actually hashed, so the plan matches what was seen rather than a stale stat.
 */
export async function hashFile(path: string, options: HashFileOptions = {}): Promise<BlockHashes> {
  const fd = openSync(path, READ_NO_FOLLOW);
  try {
    const st = fstatSync(fd);
    assertRegularFile(st, path);
    const size = st.size;
    const blockSize = options.blockSize ?? chooseBlockSize(size);
    const maxBlocks = Math.max(1, Math.floor((options.readBytes ?? DEFAULT_READ_BYTES) / blockSize));
    // Room for the whole file plus one block (a file that grows while it is read), up to the read size.
    const blocks = Math.min(maxBlocks, Math.floor(size / blockSize) + 1);
    const length = blocks * blockSize;
    if (length <= SYNC_READ_BYTES) {
      if (!scratch) scratch = Buffer.allocUnsafe(SYNC_READ_BYTES);
      options.signal?.throwIfAborted();
      return hashSync(fd, scratch.subarray(0, length), blockSize);
    }
    return await hashAsync(fd, Buffer.allocUnsafe(length), blockSize, options.signal);
  } finally {
    closeSync(fd);
  }
}

/** Digests the whole blocks (and a short last one) in the first `filled` bytes of `buf`. */
function digestFilled(parts: Buffer[], buf: Buffer, filled: number, blockSize: number): void {
  for (let pos = 0; pos < filled; pos += blockSize) parts.push(digestBlock(buf.subarray(pos, Math.min(pos + blockSize, filled))));
}

// Both readers fill the buffer completely (short reads happen) so blocks stay aligned to blockSize, and stop at
// the first buffer that does not fill. The synchronous one never yields, which is what makes sharing the scratch
// buffer safe; an await in it would let another hashFile overwrite the buffer mid-file.

function hashSync(fd: number, buf: Buffer, blockSize: number): BlockHashes {
  const parts: Buffer[] = [];
  let fileSize = 0;
  for (;;) {
    let filled = 0;
    for (let n = 1; n > 0 && filled < buf.length; filled += n) n = readSync(fd, buf, filled, buf.length - filled, fileSize + filled);
    digestFilled(parts, buf, filled, blockSize);
    fileSize += filled;
    if (filled < buf.length) return { blockSize, fileSize, digests: Buffer.concat(parts, parts.length * BLOCK_DIGEST_BYTES) };
  }
}

async function hashAsync(fd: number, buf: Buffer, blockSize: number, signal?: AbortSignal): Promise<BlockHashes> {
  const parts: Buffer[] = [];
  let fileSize = 0;
  for (;;) {
    signal?.throwIfAborted();
    let filled = 0;
    for (let n = 1; n > 0 && filled < buf.length; filled += n) n = await readAsync(fd, buf, filled, buf.length - filled, fileSize + filled);
    digestFilled(parts, buf, filled, blockSize);
    fileSize += filled;
    if (filled < buf.length) return { blockSize, fileSize, digests: Buffer.concat(parts, parts.length * BLOCK_DIGEST_BYTES) };
  }
}
