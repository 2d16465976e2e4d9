import { randomBytes } from 'node:crypto';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashBlocks } from '../../../shared/delta';
import { sendFileChanges } from './file-content';
import { fileHashes } from './tree-index';
import type { CapturedOp } from './types';

const KiB = 1024;
let dir: string;
beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'tandem-file-content-')); });
afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

describe('sendFileChanges on a file that grew past its block size', () => {
  // Indexed at 1 KiB blocks while small; at 2 MiB the ideal block is 4 KiB, a 4x change that re-picks it.
  async function grownFile() {
    const file = join(dir, 'log');
    const first = randomBytes(512 * KiB);
    await writeFile(file, first);
    const old = fileHashes(hashBlocks(first, KiB), Date.now());
    await appendFile(file, randomBytes(1536 * KiB));
    const ops: CapturedOp[] = [];
    return { file, old, ops, emit: async (o: CapturedOp) => void ops.push(o) };
  }
  const sent = (ops: CapturedOp[]) => ops.reduce((n, o) => n + (o.payload?.length ?? 0), 0);

  it('a tail-only pass sends the appended bytes and keeps the block size (no re-read of the whole file)', async () => {
    const { file, old, ops, emit } = await grownFile();
    const r = await sendFileChanges(file, old, emit, { tailMinBytes: 256 * KiB });
    expect(r.tailOnly).toBe(true);
    expect(r.hashes.blockSize).toBe(KiB);
    expect(r.hashes.fileSize).toBe(2048 * KiB);
    expect(sent(ops)).toBe(1536 * KiB);
    expect(ops[0]!.op).toMatchObject({ op: 'write', offset: 512 * KiB });
  });

  it('the full comparison that follows re-picks the block size', async () => {
    const { file, old, ops, emit } = await grownFile();
    const tail = await sendFileChanges(file, old, emit, { tailMinBytes: 256 * KiB });
    ops.length = 0;
    const full = await sendFileChanges(file, tail.hashes, emit);
    expect(full.tailOnly).toBe(false);
    expect(full.hashes.blockSize).toBe(4 * KiB);
    expect(full.hashes.digests.equals(hashBlocks(await readFile(file), 4 * KiB).digests)).toBe(true);
    expect(sent(ops)).toBe(0); // nothing changed since the tail pass
  });
});
