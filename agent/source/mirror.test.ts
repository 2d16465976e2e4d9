import { describe, expect, it } from 'vitest';
import { coalesce } from './mirror';

async function* parts(sizes: number[]): AsyncGenerator<Buffer> {
  let n = 0;
  for (const size of sizes) yield Buffer.from(Array.from({ length: size }, () => n++ % 251));
}

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const b of it) out.push(b);
  return out;
}

describe('coalesce', () => {
  it('joins small frame parts into larger writes and passes large ones through, bytes in order', async () => {
    const sizes = [10, 20, 30, 100, 5, 500, 7, 8];
    const out = await collect(coalesce(parts(sizes), 64));
    expect(Buffer.concat(out)).toEqual(Buffer.concat(await collect(parts(sizes))));
    expect(out.map((b) => b.length)).toEqual([60, 100, 5, 500, 15]);
  });

  it('yields nothing for nothing', async () => {
    expect(await collect(coalesce(parts([]), 64))).toEqual([]);
  });
});
