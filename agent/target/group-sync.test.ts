import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { GroupSync, SyncfsHelper, syncfsHelperCommand } from './group-sync';

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

const hasProgram = (p: string) => spawnSync('sh', ['-c', `command -v ${p}`]).status === 0;

describe('SyncfsHelper', () => {
  const variants = [
    { name: 'shell running sync --file-system', argv: syncfsHelperCommand('none', false).argv, skip: false },
    { name: 'perl making the system call', argv: syncfsHelperCommand(process.arch, true).argv, skip: !hasProgram('perl') || syncfsHelperCommand(process.arch, true).kind !== 'perl' },
  ];
  for (const v of variants) {
    it.skipIf(v.skip)(`${v.name}: syncs the file system of an existing directory, and says so when it cannot`, async () => {
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tandem-syncfs-'));
      const h = new SyncfsHelper(v.argv);
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

    it.skipIf(v.skip)(`${v.name}: a FIFO where the directory was does not hold the helper (nor the syncs after it)`, async () => {
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tandem-syncfs-'));
      const fifo = path.join(dir, 'was-a-dir');
      execFileSync('mkfifo', [fifo]);
      const h = new SyncfsHelper(v.argv);
      try {
        // A descriptor on the FIFO is on the same file system: syncing through it is as good as through a directory.
        expect(await h.syncfs(fifo)).toBe(true);
        expect(await h.syncfs(dir)).toBe(true);
      } finally {
        h.close();
        await fs.rm(dir, { recursive: true, force: true });
      }
    });
  }

  it('uses perl only where the system call number is known, else the shell', () => {
    expect(syncfsHelperCommand('x64', true).kind).toBe('perl');
    expect(syncfsHelperCommand('arm64', true).kind).toBe('perl');
    expect(syncfsHelperCommand('x64', false).kind).toBe('shell');
    expect(syncfsHelperCommand('s390x', true).kind).toBe('shell');
  });

  // A wrong number would make some other system call: check the one perl makes is syncfs, on this machine's architecture.
  it.skipIf(!hasProgram('strace') || !hasProgram('perl') || syncfsHelperCommand(process.arch, true).kind !== 'perl')('the perl helper makes the syncfs system call on the directory it is given', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tandem-syncfs-'));
    const out = path.join(dir, 'trace');
    try {
      const argv = syncfsHelperCommand(process.arch, true).argv;
      const answer = execFileSync('strace', ['-f', '-e', 'trace=syncfs', '-o', out, ...argv], { input: `${dir}\n`, encoding: 'utf8' });
      expect(answer).toBe('ok\n');
      expect(await fs.readFile(out, 'utf8')).toMatch(/syncfs\(\d+\)\s+= 0/);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
