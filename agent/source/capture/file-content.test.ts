import { randomBytes } from 'node:crypto';
import { appendFile, mkdtemp, open, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashBlocks, hashFile } from '../../../shared/delta';
import { sendFileChanges, sendWholeFile } from './file-content';
import { isGone } from './observe';
import { fifoWithLateWriter } from '../../../test/support/late-fifo';
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

describe('sendFileChanges payloads', () => {
  it('a few changed blocks are copied out of the read buffer, not sent as views that keep it alive', async () => {
    const file = join(dir, 'big');
    const content = randomBytes(8 * 1024 * KiB);
    await writeFile(file, content);
    const old = fileHashes(hashBlocks(content, 4 * KiB), Date.now());
    const fh = await open(file, 'r+');
    await fh.write(Buffer.alloc(4 * KiB, 7), 0, 4 * KiB, 5 * 1024 * KiB);
    await fh.close();
    const ops: CapturedOp[] = [];
    await sendFileChanges(file, old, async (o) => void ops.push(o));
    expect(ops.map((o) => [o.op.op, o.op.op === 'write' && o.op.offset, o.payload?.length])).toEqual([['write', 5 * 1024 * KiB, 4 * KiB]]);
    // Queued payloads are held until the target acknowledges them: 4 KiB must not pin a 4 MiB read buffer.
    expect(ops[0]!.payload!.buffer.byteLength).toBeLessThanOrEqual(8 * KiB);
  });

  it('an appended region goes out as whole write ops of the new bytes, in order', async () => {
    const file = join(dir, 'grow');
    const first = randomBytes(100 * KiB);
    await writeFile(file, first);
    const old = fileHashes(hashBlocks(first, 4 * KiB), Date.now());
    const more = randomBytes(9 * 1024 * KiB);
    await appendFile(file, more);
    const ops: CapturedOp[] = [];
    await sendFileChanges(file, old, async (o) => void ops.push(o));
    expect(Buffer.concat(ops.map((o) => o.payload!)).equals(more)).toBe(true);
    let at = 100 * KiB;
    for (const o of ops) {
      expect(o.op).toMatchObject({ op: 'write', offset: at });
      at += o.payload!.length;
    }
  });
});

describe('reading a file where a symlink is now', () => {
  it('never reads through it (it may point anywhere on the machine): the file is gone from that path', async () => {
    const secret = join(dir, 'outside-secret');
    await writeFile(secret, 'not part of the protected set');
    const file = join(dir, 'was-a-file');
    await symlink(secret, file);
    const ops: CapturedOp[] = [];
    const emit = async (o: CapturedOp) => void ops.push(o);
    const meta = { mode: 0o644, uid: 0, gid: 0, mtimeMs: 0 };
    const whole = await sendWholeFile(file, meta, emit).then(() => null, (err: unknown) => err);
    const changes = await sendFileChanges(file, fileHashes(hashBlocks(Buffer.alloc(0), KiB), 0), emit).then(() => null, (err: unknown) => err);
    const hashed = await hashFile(file).then(() => null, (err: unknown) => err);
    for (const err of [whole, changes, hashed]) {
      expect(err).toMatchObject({ code: 'ELOOP' });
      expect(isGone(err)).toBe(true);
    }
    expect(ops).toEqual([]);
  });
});

describe('reading a file where a FIFO is now', () => {
  let writer: { stop(): void } | undefined;
  afterEach(() => writer?.stop());

  it('neither waits for a writer nor sends what one writes: the file is gone from that path', async () => {
    const file = join(dir, 'was-a-file');
    writer = fifoWithLateWriter(file, 'written into the FIFO');
    const ops: CapturedOp[] = [];
    const emit = async (o: CapturedOp) => void ops.push(o);
    const meta = { mode: 0o644, uid: 0, gid: 0, mtimeMs: 0 };
    const whole = await sendWholeFile(file, meta, emit).then(() => null, (err: unknown) => err);
    const changes = await sendFileChanges(file, fileHashes(hashBlocks(Buffer.alloc(0), KiB), 0), emit).then(() => null, (err: unknown) => err);
    for (const err of [whole, changes]) {
      expect(err).toMatchObject({ code: 'ENOENT' });
      expect(isGone(err)).toBe(true);
    }
    expect(ops).toEqual([]);
  });
});
