import { describe, expect, it } from 'vitest';
import { ManifestAnswer } from './data-port';
import { MAX_BLOCK_SIZE, MIN_BLOCK_SIZE } from '../delta/block-size';

const answer = (blockSize: number) => ({
  needs: [{ action: 'blocks', reason: 'size_or_time', blockSize, fileSize: 1 << 30 }],
  orphans: { found: 0, removed: 0, moved: 0, kept: 0, paths: [] },
});

describe('ManifestAnswer', () => {
  it('takes block sizes the agents choose (4 KiB..1 MiB) and refuses others: 1-byte blocks would have the source hash a GiB into 16 GiB of digests', () => {
    for (const ok of [MIN_BLOCK_SIZE, 32 * 1024, MAX_BLOCK_SIZE]) expect(ManifestAnswer.safeParse(answer(ok)).success).toBe(true);
    for (const bad of [1, MIN_BLOCK_SIZE - 1, MAX_BLOCK_SIZE * 2, 1.5]) expect(ManifestAnswer.safeParse(answer(bad)).success).toBe(false);
  });
});
