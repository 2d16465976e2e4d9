import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readdirSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { escapeNameBytes, splitUtf8Names } from './dir-names';

let dir: string;
beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'tandem-names-')); });
afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

describe('splitUtf8Names', () => {
  it('keeps UTF-8 names (a real U+FFFD in one too) and sets apart, escaped, those that are not', async () => {
    await writeFile(join(dir, 'plain.txt'), '');
    await writeFile(join(dir, 'café ☕.txt'), '');
    await writeFile(join(dir, 'odd\uFFFDbut-valid'), '');
    writeFileSync(Buffer.concat([Buffer.from(`${dir}/caf`), Buffer.from([0xe9]), Buffer.from('.txt')]), 'latin-1 name');
    const listed = splitUtf8Names(dir, readdirSync(dir));
    expect(listed.names.sort()).toEqual(['café ☕.txt', 'odd\uFFFDbut-valid', 'plain.txt']);
    expect(listed.notUtf8).toEqual(['caf\\xe9.txt']);
  });

  it('a listing without a replacement character is taken as it is, without listing again', async () => {
    const names = ['a', 'b'];
    expect(splitUtf8Names(join(dir, 'not-even-there'), names)).toEqual({ names, notUtf8: [] });
  });

  it('escapes every byte outside printable ASCII, and the backslash itself', () => {
    expect(escapeNameBytes(Buffer.from([0x61, 0x5c, 0x0a, 0xff]))).toBe('a\\x5c\\x0a\\xff');
  });
});
