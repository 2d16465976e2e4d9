import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GroupSync, SyncfsHelper } from './group-sync';

/** A syncfs whose calls are counted and finish when the test says so. */
function controlledSync() {
  const calls: Array<{ dir: string; finish: (ok: boolean) => void }> = [];
  return { calls, syncfs: (dir: string) => new Promise<boolean>((finish) => calls.push({ dir, finish })) };
}
const tick = () => new Promise((r) => setImmediate(r));

describe('GroupSync', () => {
  it('answers requests made together with one sync of their file system', async () => {
    const s = controlledSync();
    const g = new GroupSync(s);
    const answers = Array.from({ length: 10 }, () => g.request('dev1', '/replica/d'));
    await tick();
    expect(s.calls).toHaveLength(1);
    s.calls[0]!.finish(true);
    expect(await Promise.all(answers)).toEqual(Array(10).fill(true));
  });

  it('a request made while a sync runs waits for the next one (the running one may predate its writes)', async () => {
    const s = controlledSync();
    const g = new GroupSync(s);
    const first = g.request('dev1', '/r');
    await tick();
    let laterDone = false;
    const later = g.request('dev1', '/r').then((ok) => { laterDone = true; return ok; });
    const alsoLater = g.request('dev1', '/r');
    s.calls[0]!.finish(true);
    expect(await first).toBe(true);
    await tick();
    expect(laterDone).toBe(false);
    expect(s.calls).toHaveLength(2);
    s.calls[1]!.finish(true);
    expect(await later).toBe(true);
    expect(await alsoLater).toBe(true);
    expect(s.calls).toHaveLength(2);
  });

  it('file systems are synced independently, and a failed sync answers false so the caller syncs the file itself', async () => {
    const s = controlledSync();
    const g = new GroupSync(s);
    const a = g.request('dev1', '/a');
    const b = g.request('dev2', '/b');
    await tick();
    expect(s.calls.map((c) => c.dir)).toEqual(['/a', '/b']);
    s.calls[0]!.finish(false);
    s.calls[1]!.finish(true);
    expect([await a, await b]).toEqual([false, true]);
  });
});

describe('SyncfsHelper', () => {
  it('syncs the file system of an existing directory, and says so when it cannot', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tandem-syncfs-'));
    const h = new SyncfsHelper();
    try {
      expect(await h.syncfs(dir)).toBe(true);
      expect(await h.syncfs(path.join(dir, 'no-such-dir'))).toBe(false);
      expect(await h.syncfs(`${dir}\nx`)).toBe(false);
      expect(await h.syncfs(dir)).toBe(true);
    } finally {
      h.close();
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
