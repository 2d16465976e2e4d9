import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FileOp } from '../../shared/protocol/ops';
import { createAgentLogger } from '../log';
import { SlotFile } from '../slot-file';
import { ReplicaFs } from './replica-fs';
import { MISSING_MAX_PATHS, ReplicationSink, type IncomingOp } from './replication-sink';
import { ReplicateAnswer } from '../../shared/protocol/data-port';

const SRC = '/srcroot';
let work: string;
let root: string;
let sinkDir: string;

beforeEach(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'tandem-sink-'));
  root = path.join(work, 'replica');
  sinkDir = path.join(work, 'sink');
  await fs.mkdir(root);
});
afterEach(async () => {
  await fs.rm(work, { recursive: true, force: true });
});

function openSink(): Promise<ReplicationSink> {
  const replica = new ReplicaFs([{ path: SRC, type: 'include' }], { mode: 'custom', entries: [{ source: SRC, target: root }] }, 'src');
  const sink = new ReplicationSink({ dir: sinkDir, replica: () => replica, log: createAgentLogger('silent'), jobId: 'j1', exclusive: (fn) => fn() });
  return sink.open(1).then(() => sink);
}

const meta = { mode: 0o644, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, mtimeMs: 1_600_000_000_000 };
const file = (seq: number, p: string, data: string): IncomingOp =>
  ({ seq, op: { op: 'file', path: `${SRC}${p}`, offset: 0, final: true, size: data.length, meta } as FileOp, payload: Buffer.from(data) });

describe('ReplicationSink', () => {
  it('applies a rename followed by a new file of the old name, and acknowledges it without asking for a mirror', async () => {
    const sink = await openSink();
    const r = await sink.receive([
      file(1, '/a', 'first'),
      { seq: 2, op: { op: 'rename', path: `${SRC}/b`, from: `${SRC}/a` }, payload: Buffer.alloc(0) },
      file(3, '/a', 'second'),
    ]);
    expect(r).toMatchObject({ ackedSeq: 3, blocked: null });
    expect(r.remirror).toBeUndefined();
    expect(await fs.readFile(path.join(root, 'b'), 'utf8')).toBe('first');
    expect(await fs.readFile(path.join(root, 'a'), 'utf8')).toBe('second');
    await sink.close();
    const again = await openSink();
    expect(again.remirrorReason).toBeNull();
    // A resent batch is recognised as already received and not applied again.
    expect((await again.receive([file(3, '/a', 'second')])).ackedSeq).toBe(3);
    expect(await fs.readFile(path.join(root, 'b'), 'utf8')).toBe('first');
    await again.close();
  });

  it('a rename from a path this target does not have is not blocking, and its destination is asked for again, once', async () => {
    const sink = await openSink();
    const r = await sink.receive([{ seq: 1, op: { op: 'rename', path: `${SRC}/here`, from: `${SRC}/never-mirrored` }, payload: Buffer.alloc(0) }]);
    expect(r).toMatchObject({ ackedSeq: 1, blocked: null, resend: [`${SRC}/here`] });
    expect((await sink.receive([file(2, '/other', 'x')])).resend).toBeUndefined();
    await sink.close();
  });

  it('a write into a file this target does not have is not blocking, makes no file, and the file is asked for whole', async () => {
    const sink = await openSink();
    const r = await sink.receive([{ seq: 1, op: { op: 'write', path: `${SRC}/never-sent`, offset: 41_697 }, payload: Buffer.from('appended') }]);
    expect(r).toMatchObject({ ackedSeq: 1, blocked: null, resend: [`${SRC}/never-sent`] });
    await expect(fs.stat(path.join(root, 'never-sent'))).rejects.toThrow();
    await sink.close();
  });

  it('a chunk of a whole file whose earlier bytes are gone here (its temp file already renamed into place) is not blocking, and the file is asked for whole', async () => {
    const sink = await openSink();
    const chunk = (seq: number, offset: number, data: string, final: boolean): IncomingOp =>
      ({ seq, op: { op: 'file', path: `${SRC}/big`, offset, final, size: offset + data.length, meta } as FileOp, payload: Buffer.from(data) });
    expect(await sink.receive([chunk(1, 0, 'first half ', false)])).toMatchObject({ ackedSeq: 1, blocked: null });
    // The temp file is renamed into place while the next chunk is still to come: as when the target was killed after
    // applying the final chunk but before saving that it had (the source sends that chunk again after the restart), or
    // when a mirror batch between two requests wrote the same file whole through the same temp name.
    const temps = (await fs.readdir(root)).filter((n) => n.endsWith('.part'));
    expect(temps).toHaveLength(1);
    await fs.rename(path.join(root, temps[0]!), path.join(root, 'big'));
    const r = await sink.receive([chunk(2, 11, 'second half', true), file(3, '/after', 'applied')]);
    expect(r).toMatchObject({ ackedSeq: 3, blocked: null, resend: [`${SRC}/big`] });
    expect(await fs.readFile(path.join(root, 'after'), 'utf8')).toBe('applied');
    expect(sink.stats().blocked).toBeNull();
    await sink.close();
  });

  it('a hard link to a path that holds another file here is not made, not blocking, and both names are asked for again', async () => {
    const sink = await openSink();
    const none = Buffer.alloc(0);
    const r = await sink.receive([
      file(1, '/orig', 'newer content'),
      { seq: 2, op: { op: 'hardlink', path: `${SRC}/link`, existing: `${SRC}/orig`, expect: { size: 3, mtimeMs: meta.mtimeMs } }, payload: none },
      file(3, '/next', 'applied'),
    ]);
    expect(r).toMatchObject({ ackedSeq: 3, blocked: null, resend: [`${SRC}/link`, `${SRC}/orig`] });
    await expect(fs.lstat(path.join(root, 'link'))).rejects.toThrow(/ENOENT/);
    expect(await fs.readFile(path.join(root, 'next'), 'utf8')).toBe('applied');
    await sink.close();
  });

  it('a truncate where the target has a symlink is not applied through it, not blocking, and the file is asked for whole', async () => {
    const outside = path.join(work, 'outside.txt');
    await fs.writeFile(outside, 'not part of the replica');
    await fs.symlink(outside, path.join(root, 'was-a-link'));
    const sink = await openSink();
    const r = await sink.receive([{ seq: 1, op: { op: 'truncate', path: `${SRC}/was-a-link`, size: 3 }, payload: Buffer.alloc(0) }, file(2, '/next', 'applied')]);
    expect(r).toMatchObject({ ackedSeq: 2, blocked: null, resend: [`${SRC}/was-a-link`] });
    expect(await fs.readFile(outside, 'utf8')).toBe('not part of the replica');
    expect(await fs.readFile(path.join(root, 'next'), 'utf8')).toBe('applied');
    await sink.close();
  });

  it('a path the target asks for is asked for again after a restart until a later batch saved that it was handed out', async () => {
    const sink = await openSink();
    const r = await sink.receive([{ seq: 1, op: { op: 'rename', path: `${SRC}/here`, from: `${SRC}/never-mirrored` }, payload: Buffer.alloc(0) }]);
    expect(ReplicateAnswer.parse(r).resend).toEqual([`${SRC}/here`]);
    await sink.close(); // the answer may never have reached the source
    const again = await openSink();
    expect((await again.receive([file(2, '/other', 'x')])).resend).toEqual([`${SRC}/here`]);
    expect((await again.receive([file(3, '/other', 'y')])).resend).toBeUndefined(); // saves that it was handed out
    await again.close();
    const third = await openSink();
    expect((await third.receive([file(4, '/other', 'z')])).resend).toBeUndefined();
    await third.close();
  });

  it('too many missing paths turn into one difference mirror request, which survives a restart', async () => {
    const sink = await openSink();
    const renames: IncomingOp[] = Array.from({ length: MISSING_MAX_PATHS + 1 }, (_, i) =>
      ({ seq: i + 1, op: { op: 'rename', path: `${SRC}/to${i}`, from: `${SRC}/gone${i}` }, payload: Buffer.alloc(0) }));
    await sink.receive(renames.slice(0, -1));
    await sink.close();
    const again = await openSink();
    const r = ReplicateAnswer.parse(await again.receive(renames.slice(-1)));
    expect(r.remirror).toMatch(/more than 10000/);
    expect(r.resend).toBeUndefined();
    expect((await again.receive([file(MISSING_MAX_PATHS + 2, '/other', 'x')])).remirror).toBeUndefined();
    await again.close();
    const third = await openSink();
    expect(third.remirrorReason).toBeNull();
    await third.close();
  }, 30_000);

  it('after stopping in the middle of a batch with renames, asks the source for a difference mirror, once', async () => {
    await fs.mkdir(sinkDir, { recursive: true });
    // What a crash leaves behind: the mark written before applying seqs 1..3, never cleared.
    const slot = SlotFile.open(path.join(sinkDir, 'sink.state'));
    await slot.save(JSON.stringify({ receivedSeq: 0, appliedSeq: 0, epoch: 1, applyingThrough: 3 }));
    slot.close();
    const sink = await openSink();
    expect(sink.remirrorReason).toMatch(/operations 1\.\.3/);
    const first = await sink.receive([file(1, '/x', 'x')]);
    expect(first.remirror).toMatch(/renames that cannot be safely applied twice/);
    const second = await sink.receive([file(2, '/y', 'y')]);
    expect(second.remirror).toBeUndefined();
    await sink.close();
    // The mark is gone once a batch has been saved after the restart.
    const reopened = await openSink();
    expect(reopened.remirrorReason).toBeNull();
    await reopened.close();
  });

  it('applies a stream piece by piece while the rest arrives, and answers with the last durable number', async () => {
    const sink = await openSink();
    const big = (seq: number, name: string) => file(seq, name, String(seq).repeat(64 * 1024));
    let sawFirstPieceApplied = false;
    async function* ops() {
      yield big(1, '/p1');
      yield big(2, '/p2'); // 128 KiB: the first piece is complete
      // The next operations are only "decoded" once the first piece is on disk: applying must not wait for the end.
      const until = Date.now() + 10_000;
      while (Date.now() < until && !(await fs.stat(path.join(root, 'p2')).catch(() => null))) await new Promise((r) => setTimeout(r, 5));
      sawFirstPieceApplied = !!(await fs.stat(path.join(root, 'p2')).catch(() => null));
      yield big(3, '/p3');
      yield file(4, '/small', 'small');
    }
    const r = await sink.receiveStream(ops(), 100 * 1024);
    expect(sawFirstPieceApplied).toBe(true);
    expect(r).toMatchObject({ ackedSeq: 4, blocked: null });
    expect(await fs.readFile(path.join(root, 'small'), 'utf8')).toBe('small');
    expect((await fs.readFile(path.join(root, 'p3'), 'utf8')).length).toBe(64 * 1024);
    await sink.close();
  });

  it('a stream cut after its first piece keeps that piece received; the resend applies only the rest', async () => {
    const sink = await openSink();
    async function* cut() {
      yield file(1, '/one', 'one');
      yield file(2, '/two', 'two');
      throw new Error('connection reset');
    }
    await expect(sink.receiveStream(cut(), 1)).rejects.toThrow('connection reset');
    expect(await fs.readFile(path.join(root, 'two'), 'utf8')).toBe('two');
    await fs.writeFile(path.join(root, 'one'), 'changed on the target since');
    async function* resend() {
      yield file(1, '/one', 'one');
      yield file(2, '/two', 'two');
      yield file(3, '/three', 'three');
    }
    expect((await sink.receiveStream(resend(), 1)).ackedSeq).toBe(3);
    // 1 and 2 were durable before the cut: not applied again.
    expect(await fs.readFile(path.join(root, 'one'), 'utf8')).toBe('changed on the target since');
    expect(await fs.readFile(path.join(root, 'three'), 'utf8')).toBe('three');
    await sink.close();
  });

  it('applies a payload given as the pieces it arrived in, and keeps such a payload whole while the target is paused', async () => {
    const sink = await openSink();
    const pieces = (text: string) => Array.from({ length: Math.ceil(text.length / 5) }, (_, i) => Buffer.from(text.slice(i * 5, i * 5 + 5)));
    const inPieces = (seq: number, p: string, text: string): IncomingOp => ({ ...file(seq, p, text), payload: pieces(text) });
    expect((await sink.receive([inPieces(1, '/live', 'applied straight from the pieces')])).ackedSeq).toBe(1);
    expect(await fs.readFile(path.join(root, 'live'), 'utf8')).toBe('applied straight from the pieces');
    // Paused: the operation is queued (its pieces joined into one record), then applied on resume.
    const text = 'queued while paused, applied on resume';
    const chunks = pieces(text);
    sink.setPaused(true);
    expect((await sink.receive([{ ...file(2, '/later', text), payload: chunks }])).ackedSeq).toBe(2);
    expect(await fs.stat(path.join(root, 'later')).catch(() => null)).toBeNull();
    chunks.forEach((c) => c.fill(0)); // the network chunks are reused or gone by now: the queue must hold its own copy
    sink.setPaused(false);
    await expect.poll(() => fs.readFile(path.join(root, 'later'), 'utf8').catch(() => ''), { timeout: 5000 }).toBe('queued while paused, applied on resume');
    await sink.close();
  });

  it('an empty stream answers with what is already durable', async () => {
    const sink = await openSink();
    await sink.receive([file(1, '/a', 'a')]);
    expect((await sink.receiveStream((async function* () {})())).ackedSeq).toBe(1);
    await sink.close();
  });
});

describe('ReplicationSink after a crash', () => {
  it('operations acknowledged while paused (held in the target queue) are applied after the target was killed, not lost', async () => {
    const sink = await openSink();
    sink.setPaused(true);
    const r = await sink.receive([file(1, '/a', 'one'), file(2, '/b', 'two'), file(3, '/a', 'one, again')]);
    expect(r.ackedSeq).toBe(3);
    await expect(fs.stat(path.join(root, 'a'))).rejects.toThrow();
    // Killed: nothing is closed. A new process opens the same directory.
    const again = await openSink();
    try {
      for (let i = 0; i < 100 && again.stats().queuedOps > 0; i++) await new Promise((res) => setTimeout(res, 20));
      expect(again.stats()).toMatchObject({ queuedOps: 0, appliedSeq: 3, receivedSeq: 3 });
      expect(await fs.readFile(path.join(root, 'a'), 'utf8')).toBe('one, again');
      expect(await fs.readFile(path.join(root, 'b'), 'utf8')).toBe('two');
      expect(again.remirrorReason).toBeNull();
      // The stream goes on where it was: the next op is applied, a resent old one is not.
      expect((await again.receive([file(3, '/a', 'stale resend'), file(4, '/c', 'four')])).ackedSeq).toBe(4);
      expect(await fs.readFile(path.join(root, 'a'), 'utf8')).toBe('one, again');
      expect(await fs.readFile(path.join(root, 'c'), 'utf8')).toBe('four');
    } finally {
      await again.close();
    }
  });

  it('when the queue lost acknowledged operations, the target asks the source for a difference mirror', async () => {
    const sink = await openSink();
    sink.setPaused(true);
    await sink.receive([file(1, '/a', 'one'), file(2, '/b', 'two')]);
    // The queue's segment files are gone (a disk replaced, someone cleaned the data dir), the sink state is not.
    for (const f of await fs.readdir(path.join(sinkDir, 'queue'))) if (!f.includes('state')) await fs.rm(path.join(sinkDir, 'queue', f), { force: true });
    const again = await openSink();
    try {
      expect(again.remirrorReason).toMatch(/lost operations/);
      expect(again.stats().queuedOps).toBe(0);
    } finally {
      await again.close();
    }
  });
});

describe('ReplicationSink: an operation that cannot be applied', () => {
  it.skipIf(process.getuid?.() !== 0)('is retried on its own, without further operations arriving, and nothing after it is applied meanwhile', async () => {
    const { execFileSync } = await import('node:child_process');
    const locked = path.join(root, 'locked');
    await fs.mkdir(locked);
    try {
      execFileSync('chattr', ['+i', locked], { stdio: 'ignore' });
    } catch {
      return; // this file system has no immutable attribute
    }
    const sink = await openSink();
    try {
      const r = await sink.receive([file(1, '/locked/f', 'blocked for now'), file(2, '/after', 'must wait')]);
      expect(r.ackedSeq).toBe(2);
      expect(r.blocked).toMatchObject({ seq: 1, path: `${SRC}/locked/f` });
      await expect(fs.stat(path.join(root, 'after'))).rejects.toThrow();
      execFileSync('chattr', ['-i', locked]);
      for (let i = 0; i < 150 && sink.stats().queuedOps > 0; i++) await new Promise((res) => setTimeout(res, 20));
      expect(sink.stats()).toMatchObject({ queuedOps: 0, appliedSeq: 2, blocked: null });
      expect(await fs.readFile(path.join(root, 'locked', 'f'), 'utf8')).toBe('blocked for now');
      expect(await fs.readFile(path.join(root, 'after'), 'utf8')).toBe('must wait');
    } finally {
      try { execFileSync('chattr', ['-i', locked], { stdio: 'ignore' }); } catch { /* already lifted */ }
      await sink.close();
    }
  });
});

describe('ReplicationSink: a full target queue', () => {
  it('refuses what does not fit (not acknowledged), and takes it once applying has made room', async () => {
    const replica = new ReplicaFs([{ path: SRC, type: 'include' }], { mode: 'custom', entries: [{ source: SRC, target: root }] }, 'src');
    const sink = new ReplicationSink({
      dir: sinkDir, replica: () => replica, log: createAgentLogger('silent'), jobId: 'j1', exclusive: (fn) => fn(),
      limits: { diskMaxBytes: 6000, segmentBytes: 4096 },
    });
    await sink.open(1);
    try {
      sink.setPaused(true);
      expect((await sink.receive([file(1, '/a', 'x'.repeat(3000))])).ackedSeq).toBe(1);
      await expect(sink.receive([file(2, '/b', 'y'.repeat(4000))])).rejects.toMatchObject({ code: 'target_queue_full' });
      sink.setPaused(false);
      for (let i = 0; i < 100 && sink.stats().queuedOps > 0; i++) await new Promise((res) => setTimeout(res, 20));
      expect(sink.stats().appliedSeq).toBe(1);
      sink.setPaused(true);
      // The source sends the refused operation again: there is room now.
      expect((await sink.receive([file(2, '/b', 'y'.repeat(4000))])).ackedSeq).toBe(2);
      sink.setPaused(false);
      for (let i = 0; i < 100 && sink.stats().queuedOps > 0; i++) await new Promise((res) => setTimeout(res, 20));
      expect(await fs.readFile(path.join(root, 'b'), 'utf8')).toBe('y'.repeat(4000));
    } finally {
      await sink.close();
    }
  });
});

describe('ReplicationSink: a stream applied in pieces', () => {
  it('hands the source every path an earlier piece found missing, not only the last piece\'s', async () => {
    const sink = await openSink();
    try {
      async function* ops(): AsyncGenerator<IncomingOp> {
        yield { seq: 1, op: { op: 'rename', path: `${SRC}/here`, from: `${SRC}/never-mirrored` }, payload: Buffer.alloc(0) };
        yield file(2, '/big', 'x'.repeat(64));
        yield file(3, '/other', 'y');
      }
      // One op per piece: the missing path is found by the first piece, the answer is the last piece's.
      const r = await sink.receiveStream(ops(), 1);
      expect(r).toMatchObject({ ackedSeq: 3, blocked: null, resend: [`${SRC}/here`] });
      expect((await sink.receive([file(4, '/more', 'z')])).resend).toBeUndefined();
    } finally {
      await sink.close();
    }
  });
});
