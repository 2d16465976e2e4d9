import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_SLOT_RECORD_BYTES, SlotFile } from './slot-file';

let dir: string;
let file: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-slot-'));
  file = path.join(dir, 'state');
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('SlotFile', () => {
  it('starts empty, then reopens with the newest record saved', async () => {
    const a = SlotFile.open(file);
    expect(a.initial).toBeNull();
    for (let i = 1; i <= 5; i++) await a.save(JSON.stringify({ seq: i }));
    a.close();
    const b = SlotFile.open(file);
    expect(JSON.parse(b.initial!)).toEqual({ seq: 5 });
    // Saving after a reopen continues the generations (the next save must win over both slots).
    await b.save('{"seq":6}');
    b.close();
    expect(SlotFile.open(file).initial).toBe('{"seq":6}');
  });

  it('falls back to the previous record when the newest slot is torn', async () => {
    const a = SlotFile.open(file);
    await a.save('{"seq":1}'); // slot 1
    await a.save('{"seq":2}'); // slot 0
    a.close();
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.from('XX'), 0, 2, 22); // damage the body of slot 0: its CRC no longer matches
    fs.closeSync(fd);
    expect(SlotFile.open(file).initial).toBe('{"seq":1}');
  });

  it('keeps saves in order when they overlap', async () => {
    const a = SlotFile.open(file);
    await Promise.all(Array.from({ length: 20 }, (_, i) => a.save(String(i + 1))));
    a.close();
    expect(SlotFile.open(file).initial).toBe('20');
  });

  it('refuses a record larger than a slot', async () => {
    const a = SlotFile.open(file);
    await expect(a.save('x'.repeat(MAX_SLOT_RECORD_BYTES + 1))).rejects.toThrow(/exceeds/);
    a.close();
  });
});
