import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BLOCK_DIGEST_BYTES, blockDigestAt, digestBlock, hashBlocks, hashBlocksStreaming } from './block-hash';
import { hashFile } from './file-hasher';

async function* chunked(data: Buffer, sizes: number[]) {
  let pos = 0;
  for (let i = 0; pos < data.length; i++) {
    const n = sizes[i % sizes.length];
    yield data.subarray(pos, pos + n);
    pos += n;
  }
}

describe('digestBlock', () => {
  // The wire format: agents of different versions compare these digests, so they stay SHA-256 truncated to 128 bits.
  it('is the first 128 bits of SHA-256, of exactly the bytes of a view', () => {
    expect(digestBlock(Buffer.from('abc')).toString('hex')).toBe('ba7816bf8f01cfea414140de5dae2223');
    const inside = Buffer.from('xxabcyy').subarray(2, 5);
    expect(digestBlock(inside).toString('hex')).toBe('ba7816bf8f01cfea414140de5dae2223');
    expect(digestBlock(new Uint8Array(0)).toString('hex')).toBe('e3b0c44298fc1c149afbf4c8996fb924');
  });
});

describe('hashBlocks', () => {
  it('produces one 16-byte digest per block, the last one short', () => {
    const data = randomBytes(4096 * 3 + 5);
    const h = hashBlocks(data, 4096);
    expect(h.fileSize).toBe(data.length);
    expect(h.digests.length).toBe(4 * BLOCK_DIGEST_BYTES);
    expect(blockDigestAt(h, 0).equals(blockDigestAt(h, 1))).toBe(false);
  });

  it('equal blocks hash equal', () => {
    const h = hashBlocks(Buffer.alloc(8192, 7), 4096);
    expect(blockDigestAt(h, 0).equals(blockDigestAt(h, 1))).toBe(true);
  });

  it('rejects a non-positive block size', () => {
    expect(() => hashBlocks(Buffer.alloc(1), 0)).toThrow(expect.objectContaining({ code: 'delta_block_size_invalid' }));
  });
});

describe('hashBlocksStreaming', () => {
  it('matches hashBlocks whatever the chunk boundaries', async () => {
    const data = randomBytes(4096 * 5 + 77);
    const expected = hashBlocks(data, 4096);
    for (const sizes of [[1, 4095, 9000], [4096], [100_000], [333, 7]]) {
      const got = await hashBlocksStreaming(chunked(data, sizes), 4096);
      expect(got.fileSize).toBe(expected.fileSize);
      expect(got.digests.equals(expected.digests), `chunks ${sizes}`).toBe(true);
    }
  });
});

describe('hashFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tandem-hash-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('matches hashBlocks of the same bytes, with a read buffer smaller than the file', async () => {
    const data = randomBytes(4096 * 37 + 1000);
    const path = join(dir, 'f.bin');
    await writeFile(path, data);
    const got = await hashFile(path, { blockSize: 4096, readBytes: 4096 * 4 });
    expect(got.fileSize).toBe(data.length);
    expect(got.digests.equals(hashBlocks(data, 4096).digests)).toBe(true);
  });

  it('chooses the block size from the file size by default and handles empty files', async () => {
    const path = join(dir, 'empty');
    await writeFile(path, '');
    expect(await hashFile(path)).toMatchObject({ blockSize: 4096, fileSize: 0 });
    expect((await hashFile(path)).digests.length).toBe(0);
  });

  it('gives the same digests on both sides of the synchronous small-file path and at block edges', async () => {
    const KiB = 1024;
    const cases: Array<[size: number, blockSize?: number]> = [
      [1], [4095], [4096], [4097], [200 * KiB, 4096], [256 * KiB - 1, 4096], [256 * KiB, 4096], [256 * KiB + 1, 4096],
      [3 * 1024 * KiB + 5], [5000, 1024 * KiB],
    ];
    for (const [size, blockSize] of cases) {
      const data = randomBytes(size);
      const path = join(dir, `edge-${size}-${blockSize ?? 'auto'}`);
      await writeFile(path, data);
      const got = await hashFile(path, blockSize ? { blockSize } : {});
      expect([size, got.fileSize]).toEqual([size, size]);
      expect([size, got.digests.equals(hashBlocks(data, got.blockSize).digests)]).toEqual([size, true]);
    }
  });

  it('refuses a FIFO where a file was expected instead of waiting for a writer', async () => {
    const path = join(dir, 'fifo');
    execFileSync('mkfifo', [path]);
    await expect(hashFile(path)).rejects.toThrow();
  }, 5_000);
});
