import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { parseJsonArg, readJsonFile, wholeNumber } from './args';

describe('what an operator types', () => {
  it('whole numbers: digits only, anything else refused before a request is made', () => {
    expect(wholeNumber('5')).toBe(5);
    expect(wholeNumber(' 3500 ')).toBe(3500);
    expect(wholeNumber('-1')).toBe(-1); // the hub says what the range is
    for (const bad of ['abc', '1.5', '', '1e3', '0x10', '5k']) expect(() => wholeNumber(bad), bad).toThrow(InvalidArgumentError);
  });

  it('a JSON file: unreadable, invalid or not an object is an error naming the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tandem-args-'));
    await writeFile(join(dir, 'ok.json'), '{"name": "web"}');
    await writeFile(join(dir, 'text.txt'), 'vm\n');
    await writeFile(join(dir, 'list.json'), '[1]');
    expect(readJsonFile(join(dir, 'ok.json'))).toEqual({ name: 'web' });
    expect(() => readJsonFile(join(dir, 'missing.json'))).toThrow(/Cannot read .*missing\.json: ENOENT/);
    expect(() => readJsonFile(join(dir, 'text.txt'))).toThrow(/text\.txt is not valid JSON/);
    expect(() => readJsonFile(join(dir, 'list.json'))).toThrow(/list\.json must hold a JSON object/);
    expect(() => parseJsonArg('{', 'The --json-body value')).toThrow(/The --json-body value is not valid JSON/);
  });
});
