import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fifoWithLateWriter } from '../../test/support/late-fifo';
import { hashFile } from './file-hasher';

let dir: string;
let stops: Array<() => void> = [];
beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'tandem-file-hasher-')); });
afterEach(async () => {
  for (const stop of stops) stop();
  stops = [];
  await rm(dir, { recursive: true, force: true });
});

describe('hashFile', () => {
  it('hashes a regular file', async () => {
    await writeFile(join(dir, 'f'), 'hello');
    const h = await hashFile(join(dir, 'f'), { blockSize: 4096 });
    expect(h.fileSize).toBe(5);
    expect(h.digests.length).toBeGreaterThan(0);
  });

  it('a FIFO where the file was is gone (ENOENT), not hashed as an empty file', async () => {
    const fifo = join(dir, 'f');
    stops.push(fifoWithLateWriter(fifo, 'late content').stop);
    await expect(hashFile(fifo, { blockSize: 4096 })).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
