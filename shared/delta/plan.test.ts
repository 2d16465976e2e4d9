import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashBlocks } from './block-hash';
import { planBlockDelta } from './plan';

const BS = 4096;

/** Applies a plan to a copy of target using source bytes, as the target applier would. */
function applyPlan(source: Buffer, target: Buffer, plan: ReturnType<typeof planBlockDelta>): Buffer {
  const out = Buffer.alloc(plan.finalSize);
  target.copy(out, 0, 0, Math.min(target.length, plan.finalSize));
  for (const r of plan.ranges) source.copy(out, r.offset, r.offset, r.offset + r.length);
  return out;
}

describe('planBlockDelta', () => {
  it('identical files need nothing', () => {
    const data = randomBytes(BS * 10 + 123);
    const plan = planBlockDelta(hashBlocks(data, BS), hashBlocks(data, BS));
    expect(plan.ranges).toEqual([]);
    expect(plan.bytesToSend).toBe(0);
    expect(plan.truncate).toBe(false);
    expect(plan.finalSize).toBe(data.length);
  });

  it('with 1% of blocks changed, the plan covers exactly those blocks', () => {
    const target = randomBytes(BS * 1000);
    const source = Buffer.from(target);
    const changed = [3, 250, 251, 600, 999, 10, 777, 420, 421, 422];
    for (const b of changed) source[b * BS + 17] ^= 0xff;
    const plan = planBlockDelta(hashBlocks(source, BS), hashBlocks(target, BS));
    const covered = plan.ranges.flatMap((r) => Array.from({ length: r.length / BS }, (_, k) => r.offset / BS + k));
    expect(covered).toEqual([...changed].sort((a, b) => a - b));
    expect(plan.changedBlocks).toBe(10);
    expect(plan.bytesToSend).toBe(10 * BS);
    // adjacent changed blocks become one range
    expect(plan.ranges).toContainEqual({ offset: 420 * BS, length: 3 * BS });
    expect(applyPlan(source, target, plan).equals(source)).toBe(true);
  });

  it('a longer target is truncated to the source size', () => {
    const source = randomBytes(BS * 5 + 10);
    const target = Buffer.concat([source, randomBytes(BS * 3)]);
    const plan = planBlockDelta(hashBlocks(source, BS), hashBlocks(target, BS));
    expect(plan.truncate).toBe(true);
    expect(plan.finalSize).toBe(source.length);
    // only the short last block differs (target's block 5 is full length)
    expect(plan.ranges).toEqual([{ offset: 5 * BS, length: 10 }]);
    expect(applyPlan(source, target, plan).equals(source)).toBe(true);
  });

  it('an append-only change sends the old partial last block and the new tail', () => {
    const target = randomBytes(BS * 8 + 100);
    const source = Buffer.concat([target, randomBytes(BS * 2)]);
    const plan = planBlockDelta(hashBlocks(source, BS), hashBlocks(target, BS));
    expect(plan.truncate).toBe(false);
    expect(plan.ranges).toEqual([{ offset: 8 * BS, length: source.length - 8 * BS }]);
    expect(applyPlan(source, target, plan).equals(source)).toBe(true);
  });

  it('an empty target gets the whole source; an empty source truncates the target to zero', () => {
    const data = randomBytes(BS * 2 + 1);
    const empty = Buffer.alloc(0);
    expect(planBlockDelta(hashBlocks(data, BS), hashBlocks(empty, BS)).ranges).toEqual([{ offset: 0, length: data.length }]);
    const toEmpty = planBlockDelta(hashBlocks(empty, BS), hashBlocks(data, BS));
    expect(toEmpty).toMatchObject({ ranges: [], finalSize: 0, truncate: true });
  });

  it('refuses hash lists made with different block sizes', () => {
    const data = randomBytes(BS * 4);
    expect(() => planBlockDelta(hashBlocks(data, BS), hashBlocks(data, BS * 2))).toThrow(
      expect.objectContaining({ code: 'delta_block_size_mismatch' }),
    );
  });
});
