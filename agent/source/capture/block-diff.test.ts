// Unit tests of the content comparison against a block index, on in-memory buffers.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashBlocks } from '../../../shared/delta';
import { BlockDiffer, shouldRegrade } from './block-diff';

const BS = 4096;

function diff(oldData: Buffer, newData: Buffer, opts: { newBlockSize?: number; startOffset?: number } = {}) {
  const d = new BlockDiffer(hashBlocks(oldData, BS), opts);
  const chunk = 4 * BS * (opts.newBlockSize ? opts.newBlockSize / BS : 1);
  const changed = [];
  for (let at = opts.startOffset ?? 0; at < newData.length; at += chunk) changed.push(...d.push(newData.subarray(at, at + chunk)));
  return { changed: changed.map((c) => ({ offset: c.offset, length: c.data.length })), index: d.finish() };
}

describe('BlockDiffer', () => {
  it('an append reports only the bytes after the old end, even inside the old last block', () => {
    const old = randomBytes(BS * 2 + 100);
    const grown = Buffer.concat([old, randomBytes(5000)]);
    expect(diff(old, grown).changed).toEqual([
      { offset: old.length, length: BS * 3 - old.length }, // rest of the old partial block
      { offset: BS * 3, length: grown.length - BS * 3 },
    ]);
  });

  it('an overwrite of one block reports that block only', () => {
    const old = randomBytes(BS * 5);
    const changed = Buffer.from(old);
    changed.fill(7, BS * 2 + 10, BS * 2 + 20);
    expect(diff(old, changed).changed).toEqual([{ offset: BS * 2, length: BS }]);
  });

  it('the new index equals a fresh hash of the new content, also after a change of block size', () => {
    const old = randomBytes(BS * 3);
    const now = Buffer.concat([old, randomBytes(BS * 13)]);
    expect(diff(old, now).index).toEqual(hashBlocks(now, BS));
    expect(diff(old, now, { newBlockSize: BS * 4 }).index).toEqual(hashBlocks(now, BS * 4));
  });

  it('the tail mode keeps the old digests of the skipped prefix and compares from the old last block', () => {
    const old = randomBytes(BS * 4 + 10);
    const now = Buffer.concat([old, randomBytes(100)]);
    const r = diff(old, now, { startOffset: BS * 4 });
    expect(r.changed).toEqual([{ offset: old.length, length: 100 }]);
    expect(r.index).toEqual(hashBlocks(now, BS));
  });

  it('regrades only on a 4x change of the ideal block size', () => {
    expect(shouldRegrade(4096, 8192)).toBe(false);
    expect(shouldRegrade(4096, 16384)).toBe(true);
    expect(shouldRegrade(65536, 16384)).toBe(true);
  });
});
