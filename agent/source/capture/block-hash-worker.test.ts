import { randomFillSync } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { hashBlocks } from '../../../shared/delta';
import { BlockHashWorker } from './block-hash-worker';

const KiB = 1024;
const shared = (bytes: number) => randomFillSync(BlockHashWorker.allocShared(bytes));

let hasher: BlockHashWorker;
afterEach(async () => { await hasher.close(); });

describe('BlockHashWorker', () => {
  it('hashes shared read buffers on the worker, with the same digests as hashBlocks', async () => {
    hasher = new BlockHashWorker();
    const cases: Array<[number, number]> = [[4 * 1024 * KiB, 32 * KiB], [1000 * KiB + 123, 4 * KiB], [512 * KiB, 1024 * KiB]];
    const results = await Promise.all(cases.map(([bytes, bs]) => {
      const data = shared(bytes);
      return hasher.digests(data, bs).then((d) => ({ d, want: hashBlocks(data, bs).digests }));
    }));
    for (const { d, want } of results) expect(d.equals(want)).toBe(true);
    expect(hasher.offloaded).toBe(cases.length);
  });

  it('hashes small or unshared buffers inline', async () => {
    hasher = new BlockHashWorker();
    const small = shared(64 * KiB);
    const unshared = randomFillSync(Buffer.allocUnsafe(2 * 1024 * KiB));
    expect((await hasher.digests(small, 4 * KiB)).equals(hashBlocks(small, 4 * KiB).digests)).toBe(true);
    expect((await hasher.digests(unshared, 4 * KiB)).equals(hashBlocks(unshared, 4 * KiB).digests)).toBe(true);
    expect(hasher.offloaded).toBe(0);
  });

  it('answers what was in flight when the worker dies, and hashes inline from then on', async () => {
    hasher = new BlockHashWorker();
    await hasher.digests(shared(512 * KiB), 4 * KiB); // started
    const data = shared(64 * 1024 * KiB);
    const inFlight = hasher.digests(data, 4 * KiB);
    await (hasher as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate(); // as if it crashed
    expect((await inFlight).equals(hashBlocks(data, 4 * KiB).digests)).toBe(true);
    const after = shared(1024 * KiB);
    expect((await hasher.digests(after, 4 * KiB)).equals(hashBlocks(after, 4 * KiB).digests)).toBe(true);
    expect(hasher.offloaded).toBe(1);
  });
});
