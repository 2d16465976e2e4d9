import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FileMeta, FileOp } from '../../shared/protocol/ops';
import { ApplySession, asOpConflict, concurrentOpsFor, openFileLimit } from './apply';
import { GroupSync } from './group-sync';
import { ReplicaFs } from './replica-fs';
import { walkProtectedSet } from '../source/walker';

const SRC = '/srcroot';
let root: string;
let replica: ReplicaFs;

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'tandem-apply-'));
  replica = new ReplicaFs([{ path: SRC, type: 'include' }], { mode: 'custom', entries: [{ source: SRC, target: root }] }, 'src');
});
afterEach(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

const meta = (mode: number, mtimeSec: number): FileMeta => ({ mode, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, mtimeMs: mtimeSec * 1000 });
const whole = (p: string, data: string, m = meta(0o640, 1_600_000_000)): [FileOp, Buffer] =>
  [{ op: 'file', path: `${SRC}${p}`, offset: 0, final: true, size: Buffer.byteLength(data), meta: m }, Buffer.from(data)];

/** Submits ops the way the mirror's apply stream does and commits; returns the errors reported per op. */
async function submitAll(ops: Array<[FileOp, Buffer]>, groupSync?: GroupSync): Promise<unknown[]> {
  const s = new ApplySession(replica, groupSync);
  const errors: unknown[] = [];
  for (const [op, payload] of ops) await s.submit(op, payload, (err) => { if (err) errors.push(err); });
  await s.commit();
  return errors;
}

describe('ApplySession (concurrent mirror apply)', () => {
  it('with group sync, a whole file is synced after it was written and renamed into place only after that; a failed sync falls back to its own', async () => {
    const seen: Array<{ writtenTemps: number; finalsPresent: string[] }> = [];
    const files = Array.from({ length: 40 }, (_, i) => whole(`/g${i % 4}/f${i}.txt`, `content ${i} `.repeat(50)));
    let ok = true;
    const sync = new GroupSync({
      syncfs: async () => {
        const names = await fs.readdir(root, { recursive: true });
        const temps = names.filter((n) => n.includes('.tandem.'));
        // A temp file is either just created (empty) or written in full (one write each); one the previous round
        // let go of may be renamed away while this one looks.
        const sizes = await Promise.all(temps.map(async (t) => (await fs.stat(path.join(root, t)).catch(() => ({ size: 0 }))).size));
        seen.push({ writtenTemps: sizes.filter((n) => n > 0).length, finalsPresent: names.filter((n) => n.endsWith('.txt')) });
        return ok;
      },
    });
    expect(await submitAll(files, sync)).toEqual([]);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.length).toBeLessThan(files.length); // files finishing together share a sync
    // Each file asks for a sync once written; the commit's last one covers the directories the files were renamed into.
    expect(seen.slice(0, -1).every((s) => s.writtenTemps > 0)).toBe(true);
    expect(seen.at(-1)!.finalsPresent).toHaveLength(files.length);
    expect(seen[0]!.finalsPresent).toEqual([]); // nothing is renamed into place before its sync
    for (let i = 0; i < 40; i++) expect(await fs.readFile(path.join(root, `g${i % 4}`, `f${i}.txt`), 'utf8')).toBe(`content ${i} `.repeat(50));
    ok = false;
    expect(await submitAll([whole('/after-failed-sync.txt', 'still lands')], sync)).toEqual([]);
    expect(await fs.readFile(path.join(root, 'after-failed-sync.txt'), 'utf8')).toBe('still lands');
  });

  it('with group sync, a batch of in-place writes to several files is made durable by one sync at commit', async () => {
    for (let i = 0; i < 3; i++) await fs.writeFile(path.join(root, `blk${i}.bin`), Buffer.alloc(1000, 0x61));
    const dirs: string[] = [];
    const sync = new GroupSync({ syncfs: async (dir) => { dirs.push(dir); return true; } });
    const writes: Array<[FileOp, Buffer]> = [0, 1, 2].map((i) => [{ op: 'write', path: `${SRC}/blk${i}.bin`, offset: 100 * i }, Buffer.from(`block ${i}`)]);
    expect(await submitAll(writes, sync)).toEqual([]);
    expect(dirs).toEqual([root]);
    for (let i = 0; i < 3; i++) expect((await fs.readFile(path.join(root, `blk${i}.bin`), 'latin1')).slice(100 * i, 100 * i + 7)).toBe(`block ${i}`);
  });

  it('lands files of many directories with their content and metadata, and directory times set last', async () => {
    const ops: Array<[FileOp, Buffer]> = [];
    for (let d = 0; d < 6; d++) {
      ops.push([{ op: 'mkdir', path: `${SRC}/d${d}`, meta: meta(0o750, 1_500_000_000) }, Buffer.alloc(0)]);
      for (let f = 0; f < 20; f++) ops.push(whole(`/d${d}/f${f}.txt`, `dir ${d} file ${f} `.repeat(f + 1)));
      ops.push([{ op: 'meta', path: `${SRC}/d${d}`, meta: meta(0o750, 1_500_000_000 + d) }, Buffer.alloc(0)]);
    }
    expect(await submitAll(ops)).toEqual([]);
    for (let d = 0; d < 6; d++) {
      const dst = await fs.stat(path.join(root, `d${d}`));
      expect(dst.mode & 0o7777).toBe(0o750);
      // Set after the 20 files were renamed into the directory, or their creation would have moved it.
      expect(Math.floor(dst.mtimeMs / 1000)).toBe(1_500_000_000 + d);
      for (let f = 0; f < 20; f++) {
        const file = path.join(root, `d${d}`, `f${f}.txt`);
        expect(await fs.readFile(file, 'utf8')).toBe(`dir ${d} file ${f} `.repeat(f + 1));
        const st = await fs.stat(file);
        expect(st.mode & 0o7777).toBe(0o640);
        expect(st.mtimeMs).toBe(1_600_000_000_000);
      }
    }
    // No temp files left behind.
    const all = await fs.readdir(root, { recursive: true });
    expect(all.filter((n) => n.includes('.tandem.'))).toEqual([]);
  });

  it('writes a file sent in chunks in order, and a later copy of the same path wins', async () => {
    const m = meta(0o600, 1_700_000_000);
    const errors = await submitAll([
      [{ op: 'file', path: `${SRC}/big`, offset: 0, final: false, size: 3, meta: m }, Buffer.from('abc')],
      [{ op: 'file', path: `${SRC}/big`, offset: 3, final: false, size: 6, meta: m }, Buffer.from('def')],
      [{ op: 'file', path: `${SRC}/big`, offset: 6, final: true, size: 9, meta: m }, Buffer.from('ghi')],
      whole('/twice', 'first'),
      whole('/twice', 'second'),
    ]);
    expect(errors).toEqual([]);
    expect(await fs.readFile(path.join(root, 'big'), 'utf8')).toBe('abcdefghi');
    expect(await fs.readFile(path.join(root, 'twice'), 'utf8')).toBe('second');
  });

  it('writes a payload given in pieces (as the network delivered it), also past the writev limit of 1024 pieces', async () => {
    const data = Buffer.from(Array.from({ length: 3000 }, (_, i) => `${i},`).join(''));
    // 3000 pieces of a few bytes, more than one writev takes (IOV_MAX 1024): however it is split, the file comes out whole.
    const pieces: Buffer[] = [];
    for (let at = 0; at < data.length; at += 4) pieces.push(data.subarray(at, at + 4));
    const s = new ApplySession(replica);
    const errors: unknown[] = [];
    const op: FileOp = { op: 'file', path: `${SRC}/pieces.txt`, offset: 0, final: true, size: data.length, meta: meta(0o600, 1_600_000_000) };
    await s.submit(op, pieces, (err) => { if (err) errors.push(err); });
    await s.commit();
    expect(errors).toEqual([]);
    expect((await fs.readFile(path.join(root, 'pieces.txt'))).equals(data)).toBe(true);
  });

  it('refuses a chunk that does not follow the bytes received, and leaves no partial file', async () => {
    const m = meta(0o600, 1_700_000_000);
    const errors = await submitAll([
      [{ op: 'file', path: `${SRC}/gap`, offset: 0, final: false, size: 3, meta: m }, Buffer.from('abc')],
      [{ op: 'file', path: `${SRC}/gap`, offset: 10, final: true, size: 13, meta: m }, Buffer.from('xyz')],
    ]);
    expect(errors).toHaveLength(1);
    expect((errors[0] as { code: string }).code).toBe('file_chunk_gap');
    await expect(fs.stat(path.join(root, 'gap'))).rejects.toThrow(/ENOENT/);
  });

  it('continues a file from a resent chunk when the temp file holds more than was acknowledged (a killed target)', async () => {
    const m = meta(0o600, 1_700_000_000);
    // The first session wrote two chunks, the second one never recorded as applied (the agent was killed).
    const first = new ApplySession(replica);
    const errs: unknown[] = [];
    await first.submit({ op: 'file', path: `${SRC}/resumed`, offset: 0, final: false, size: 3, meta: m }, Buffer.from('abc'), (e) => { if (e) errs.push(e); });
    await first.submit({ op: 'file', path: `${SRC}/resumed`, offset: 3, final: false, size: 6, meta: m }, Buffer.from('dXf'), (e) => { if (e) errs.push(e); });
    await first.commit();
    expect(errs).toEqual([]);
    // The source resends from the acknowledged chunk: the one at 3, then the rest.
    const errors = await submitAll([
      [{ op: 'file', path: `${SRC}/resumed`, offset: 3, final: false, size: 6, meta: m }, Buffer.from('def')],
      [{ op: 'file', path: `${SRC}/resumed`, offset: 6, final: true, size: 8, meta: m }, Buffer.from('gh')],
    ]);
    expect(errors).toEqual([]);
    expect(await fs.readFile(path.join(root, 'resumed'), 'utf8')).toBe('abcdefgh');
    // Still refused: a chunk past the bytes the temp file holds.
    const gap = await submitAll([
      [{ op: 'file', path: `${SRC}/gapped`, offset: 0, final: false, size: 3, meta: m }, Buffer.from('abc')],
    ]);
    expect(gap).toEqual([]);
    const later = await submitAll([[{ op: 'file', path: `${SRC}/gapped`, offset: 5, final: true, size: 8, meta: m }, Buffer.from('xyz')]]);
    expect((later[0] as { code: string }).code).toBe('file_chunk_gap');
  });

  it('replaces a directory by a file when the source has a file there now', async () => {
    await fs.mkdir(path.join(root, 'was-dir', 'inner'), { recursive: true });
    expect(await submitAll([whole('/was-dir', 'now a file')])).toEqual([]);
    expect(await fs.readFile(path.join(root, 'was-dir'), 'utf8')).toBe('now a file');
  });

  it('reports a path that escapes the replica as refused without touching anything else', async () => {
    const errors = await submitAll([whole('/ok', 'fine'), [{ ...whole('/x', 'bad')[0], path: `${SRC}/../etc/evil` } as FileOp, Buffer.from('bad')]]);
    expect(errors).toHaveLength(1);
    expect((errors[0] as { code: string }).code).toMatch(/^path_/);
    expect(await fs.readFile(path.join(root, 'ok'), 'utf8')).toBe('fine');
  });
});

describe('ApplySession (in-order apply)', () => {
  it('applies a new file, a rename and an in-place write in order', async () => {
    const s = new ApplySession(replica);
    await s.apply(...whole('/a', 'hello world'));
    await s.apply({ op: 'rename', path: `${SRC}/sub/b`, from: `${SRC}/a` }, Buffer.alloc(0));
    await s.apply({ op: 'write', path: `${SRC}/sub/b`, offset: 6 }, Buffer.from('WORLD'));
    await s.commit();
    await expect(fs.stat(path.join(root, 'a'))).rejects.toThrow(/ENOENT/);
    expect(await fs.readFile(path.join(root, 'sub', 'b'), 'utf8')).toBe('hello WORLD');
  });

  it('a write after its directory was renamed and made again lands in the new file, not through a handle on the moved one', async () => {
    const s = new ApplySession(replica);
    const none = Buffer.alloc(0);
    await s.apply(...whole('/log/x', 'old'));
    await s.apply({ op: 'write', path: `${SRC}/log/x`, offset: 3 }, Buffer.from('+more'));
    await s.apply({ op: 'rename', path: `${SRC}/log.1`, from: `${SRC}/log` }, none);
    await s.apply({ op: 'mkdir', path: `${SRC}/log`, meta: meta(0o755, 1_600_000_000) }, none);
    await s.apply({ op: 'truncate', path: `${SRC}/log/x`, size: 0 }, none);
    await s.apply({ op: 'write', path: `${SRC}/log/x`, offset: 0 }, Buffer.from('new'));
    await s.apply({ op: 'delete', path: `${SRC}/log.1` }, none);
    await s.apply({ op: 'mkdir', path: `${SRC}/log.1`, meta: meta(0o755, 1_600_000_000) }, none);
    await s.apply({ op: 'truncate', path: `${SRC}/log.1/y`, size: 0 }, none);
    await s.commit();
    expect(await fs.readFile(path.join(root, 'log', 'x'), 'utf8')).toBe('new');
    expect(await fs.readdir(path.join(root, 'log.1'))).toEqual(['y']);
  });

  it('links a new name only to the file the source expects there; another file at that path is not linked to', async () => {
    const none = Buffer.alloc(0);
    const m = meta(0o644, 1_600_000_000.123456);
    const s = new ApplySession(replica);
    await s.apply(...whole('/orig', 'original data', m));
    await s.apply({ op: 'hardlink', path: `${SRC}/link`, existing: `${SRC}/orig`, expect: { size: 13, mtimeMs: m.mtimeMs } }, none);
    // The path now holds other data (a mirror sent a file renamed over it since): the link would join the wrong file.
    await s.apply(...whole('/later', 'newer data from another file', m));
    await s.apply({ op: 'rename', path: `${SRC}/orig`, from: `${SRC}/later` }, none);
    const refused = await s.apply({ op: 'hardlink', path: `${SRC}/link2`, existing: `${SRC}/orig`, expect: { size: 13, mtimeMs: m.mtimeMs } }, none)
      .then(() => null, (err: unknown) => err);
    const otherTime = await s.apply({ op: 'hardlink', path: `${SRC}/link3`, existing: `${SRC}/link`, expect: { size: 13, mtimeMs: m.mtimeMs + 1 } }, none)
      .then(() => null, (err: unknown) => err);
    await s.commit();
    expect((await fs.stat(path.join(root, 'link'))).nlink).toBe(1); // its other name was replaced by the rename
    expect(await fs.readFile(path.join(root, 'link'), 'utf8')).toBe('original data');
    expect(refused).toMatchObject({ code: 'link_source_changed' });
    expect(otherTime).toMatchObject({ code: 'link_source_changed' });
    await expect(fs.lstat(path.join(root, 'link2'))).rejects.toThrow(/ENOENT/);
    await expect(fs.lstat(path.join(root, 'link3'))).rejects.toThrow(/ENOENT/);
  });
});

describe('file times on the target', () => {
  it('a time on an exact millisecond lands on it, not a microsecond before (as a whole file and as a meta op)', async () => {
    // Coarse kernel clocks give exact milliseconds; as double seconds half of them sit a hair below and were truncated.
    const times = Array.from({ length: 40 }, (_, i) => 1_796_303_495_000 + i * 37);
    const ops: Array<[FileOp, Buffer]> = [];
    for (const [i, ms] of times.entries()) {
      ops.push(whole(`/f${i}`, 'x', { ...meta(0o644, 0), mtimeMs: ms }));
      ops.push([{ op: 'meta', path: `${SRC}/f${i}`, meta: { ...meta(0o644, 0), mtimeMs: ms + 1 } }, Buffer.alloc(0)]);
    }
    ops.push([{ op: 'mkdir', path: `${SRC}/d`, meta: { ...meta(0o755, 0), mtimeMs: times[1]! } }, Buffer.alloc(0)]);
    expect(await submitAll(ops)).toEqual([]);
    for (const [i, ms] of times.entries()) {
      const st = await fs.stat(path.join(root, `f${i}`), { bigint: true });
      expect(st.mtimeNs).toBe(BigInt(ms + 1) * 1_000_000n);
    }
    expect((await fs.stat(path.join(root, 'd'), { bigint: true })).mtimeNs).toBe(BigInt(times[1]!) * 1_000_000n);
  });

  it('a time from before 1970 lands as it is (Node would take a negative number of seconds for "now")', async () => {
    const before1970 = -86_400_500.7; // 1969-12-30T23:59:59.4993
    const m = { ...meta(0o644, 0), mtimeMs: before1970 };
    expect(await submitAll([
      whole('/old.txt', 'x', m),
      [{ op: 'mkdir', path: `${SRC}/olddir`, meta: { ...m, mode: 0o755 } }, Buffer.alloc(0)],
      [{ op: 'symlink', path: `${SRC}/oldlink`, target: 'old.txt', meta: m }, Buffer.alloc(0)],
      whole('/later.txt', 'y'),
      [{ op: 'meta', path: `${SRC}/later.txt`, meta: m }, Buffer.alloc(0)],
    ])).toEqual([]);
    for (const name of ['old.txt', 'olddir', 'oldlink', 'later.txt']) {
      // Compared by whole milliseconds, like a mirror or verify does.
      expect(Math.floor((await fs.lstat(path.join(root, name))).mtimeMs), name).toBe(Math.floor(before1970));
    }
  });

  it('a source time with nanoseconds lands on its microsecond, cut, never rounded into the next (or the next millisecond)', async () => {
    // Fine-grained kernel times have nanoseconds; utimes sets microseconds. What the source walks is sent cut to them.
    const src = await fs.mkdtemp(path.join(os.tmpdir(), 'tandem-times-'));
    try {
      const nanos = ['1796576706.267999900', '1796576706.268000100', '1796576706.000499999', '1796576706.999999999'];
      for (const [i, t] of nanos.entries()) {
        await fs.writeFile(path.join(src, `f${i}`), 'x');
        execFileSync('touch', ['-m', '-d', `@${t}`, path.join(src, `f${i}`)]);
      }
      const ops: Array<[FileOp, Buffer]> = [];
      for await (const item of walkProtectedSet([{ path: src, type: 'include', recursive: true }])) {
        if (item.kind === 'entry' && item.entry.type === 'file') ops.push(whole(`/${path.basename(item.entry.path)}`, 'x', item.entry.meta));
      }
      expect(await submitAll(ops)).toEqual([]);
      for (const i of nanos.keys()) {
        const source = (await fs.stat(path.join(src, `f${i}`), { bigint: true })).mtimeNs;
        const copy = (await fs.stat(path.join(root, `f${i}`), { bigint: true })).mtimeNs;
        expect(copy).toBe(source / 1000n * 1000n);
      }
    } finally {
      await fs.rm(src, { recursive: true, force: true });
    }
  });
});

describe('writes into a file the target lacks', () => {
  it('a write or a non-zero truncate to a missing file fails with ENOENT and creates nothing; a truncate to 0 creates it', async () => {
    const errors = await submitAll([
      [{ op: 'write', path: `${SRC}/missing`, offset: 4096 }, Buffer.from('tail')],
      [{ op: 'truncate', path: `${SRC}/missing2`, size: 10 }, Buffer.alloc(0)],
      [{ op: 'truncate', path: `${SRC}/rewritten`, size: 0 }, Buffer.alloc(0)],
      [{ op: 'write', path: `${SRC}/rewritten`, offset: 0 }, Buffer.from('whole content')],
    ]);
    expect(errors.map((e) => (e as NodeJS.ErrnoException).code)).toEqual(['ENOENT', 'ENOENT']);
    await expect(fs.stat(path.join(root, 'missing'))).rejects.toThrow();
    await expect(fs.stat(path.join(root, 'missing2'))).rejects.toThrow();
    expect(await fs.readFile(path.join(root, 'rewritten'), 'utf8')).toBe('whole content');
  });
});

describe('writes where the target has no regular file', () => {
  it('a write or truncate never goes through a symlink at the path (not even one pointing outside the replica); a truncate to 0 replaces the link by a file', async () => {
    const outside = await fs.mkdtemp(path.join(os.tmpdir(), 'tandem-outside-'));
    try {
      const victim = path.join(outside, 'victim');
      await fs.writeFile(victim, 'must stay as it is');
      for (const name of ['w', 't', 'z']) await fs.symlink(victim, path.join(root, name));
      await fs.mkdir(path.join(root, 'adir'));
      const errors = await submitAll([
        [{ op: 'write', path: `${SRC}/w`, offset: 0 }, Buffer.from('OVERWRITTEN')],
        [{ op: 'truncate', path: `${SRC}/t`, size: 3 }, Buffer.alloc(0)],
        [{ op: 'write', path: `${SRC}/adir`, offset: 0 }, Buffer.from('x')],
        [{ op: 'truncate', path: `${SRC}/z`, size: 0 }, Buffer.alloc(0)],
        [{ op: 'write', path: `${SRC}/z`, offset: 0 }, Buffer.from('new content')],
      ]);
      expect(errors.map((e) => (e as NodeJS.ErrnoException).code)).toEqual(['not_a_file', 'not_a_file', 'not_a_file']);
      expect(await fs.readFile(victim, 'utf8')).toBe('must stay as it is');
      expect((await fs.lstat(path.join(root, 'w'))).isSymbolicLink()).toBe(true);
      expect((await fs.lstat(path.join(root, 'z'))).isFile()).toBe(true);
      expect(await fs.readFile(path.join(root, 'z'), 'utf8')).toBe('new content');
      expect((await fs.lstat(path.join(root, 'adir'))).isDirectory()).toBe(true);
    } finally {
      await fs.rm(outside, { recursive: true, force: true });
    }
  });
});

describe('a file on the target where the source has a directory', () => {
  it('is replaced when an op puts something inside it (mkdir, whole file, symlink), instead of failing for good with ENOTDIR', async () => {
    for (const name of ['d', 'f', 'l']) await fs.writeFile(path.join(root, name), 'stale copy');
    const errors = await submitAll([
      [{ op: 'mkdir', path: `${SRC}/d/sub/deeper`, meta: meta(0o755, 1_600_000_000) }, Buffer.alloc(0)],
      whole('/f/inside.txt', 'new file'),
      [{ op: 'symlink', path: `${SRC}/l/link`, target: '../x' }, Buffer.alloc(0)],
    ]);
    expect(errors.map((e) => String(e))).toEqual([]);
    expect((await fs.lstat(path.join(root, 'd', 'sub', 'deeper'))).isDirectory()).toBe(true);
    expect(await fs.readFile(path.join(root, 'f', 'inside.txt'), 'utf8')).toBe('new file');
    expect(await fs.readlink(path.join(root, 'l', 'link'))).toBe('../x');
  });

  it('also when that file is the replica root itself (the source made its protected file a directory)', async () => {
    await fs.rm(root, { recursive: true });
    await fs.writeFile(root, 'the protected path was a file');
    const errors = await submitAll([whole('/now/a/dir.txt', 'inside')]);
    expect(errors.map((e) => String(e))).toEqual([]);
    expect(await fs.readFile(path.join(root, 'now', 'a', 'dir.txt'), 'utf8')).toBe('inside');
  });

  it('an operation the replica cannot take names itself in a 409, not an internal error', async () => {
    await fs.writeFile(path.join(root, 'plain'), 'a file');
    const [err] = await submitAll([[{ op: 'write', path: `${SRC}/plain/below`, offset: 0 }, Buffer.from('x')]]);
    expect(String(err)).toMatch(/ENOTDIR/);
    expect(asOpConflict({ op: 'write', path: `${SRC}/plain/below`, offset: 0 }, err)).toMatchObject({
      code: 'op_conflict', status: 409, message: expect.stringContaining(`write of "${SRC}/plain/below"`),
    });
    const full = Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    expect(asOpConflict({ op: 'delete', path: `${SRC}/x` }, full)).toBe(full); // the target's own trouble stays what it is
  });

  it('a symlink in the way is still refused, and nothing outside the replica is touched', async () => {
    const outside = await fs.mkdtemp(path.join(os.tmpdir(), 'tandem-outside-'));
    try {
      await fs.writeFile(path.join(outside, 'file'), 'outside');
      await fs.symlink(path.join(outside, 'file'), path.join(root, 'link'));
      await fs.symlink(outside, path.join(root, 'dirlink'));
      const errors = await submitAll([
        [{ op: 'mkdir', path: `${SRC}/link/sub`, meta: meta(0o755, 1_600_000_000) }, Buffer.alloc(0)],
        // Directories below the link that do not exist (outside the replica either) must not hide the link.
        whole('/dirlink/new/deeper/file', 'must not land outside'),
        [{ op: 'mkdir', path: `${SRC}/dirlink/made/here`, meta: meta(0o755, 1_600_000_000) }, Buffer.alloc(0)],
      ]);
      expect(errors.map((e) => (e as { code?: string }).code)).toEqual(['path_through_symlink', 'path_through_symlink', 'path_through_symlink']);
      expect(await fs.readFile(path.join(outside, 'file'), 'utf8')).toBe('outside');
      expect((await fs.readdir(outside)).sort()).toEqual(['file']);
      expect((await fs.lstat(path.join(root, 'link'))).isSymbolicLink()).toBe(true);
    } finally {
      await fs.rm(outside, { recursive: true, force: true });
    }
  });
});

describe('the window of mirror operations in flight', () => {
  it('reads the soft limit on open files and keeps a quarter of it, between 64 and 2,048', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tandem-limits-'));
    const limits = path.join(dir, 'limits');
    await fs.writeFile(limits, 'Limit                     Soft Limit           Hard Limit           Units     \nMax open files            4096                 1048576              files     \n');
    expect(openFileLimit(limits)).toBe(4096);
    expect(openFileLimit(path.join(dir, 'missing'))).toBe(1024);
    await fs.rm(dir, { recursive: true });
    expect(concurrentOpsFor(4096)).toBe(1024);
    expect(concurrentOpsFor(1_048_576)).toBe(2048);
    expect(concurrentOpsFor(100)).toBe(64);
  });
});
