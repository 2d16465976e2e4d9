import { appendFile, mkdir, mkdtemp, rename, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { decodeFrames } from '../../shared/protocol/frames';
import type { FileOp, ManifestEntry } from '../../shared/protocol/ops';
import type { ManifestRequest } from '../../shared/protocol/data-port';
import type { PeerClient } from '../peer/client';
import { SharedLimit } from '../peer/bandwidth';
import { fifoWithLateWriter } from '../../test/support/late-fifo';
import { coalesce, emptyMirrorStats, MirrorRun, openNow, readRange, splitNames } from './mirror';

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

describe('MirrorRun: a target that answers out of protocol', () => {
  it('a manifest answer without one need per entry fails the batch with peer_protocol, sending nothing', async () => {
    const root = await mkdtemp(join(tmpdir(), 'tandem-mirror-'));
    try {
      for (const n of ['a', 'b', 'c']) await writeFile(join(root, n), n);
      let streamed = false;
      const peer = {
        limit: new SharedLimit(),
        async json<T>(): Promise<T> {
          return { needs: [{ action: 'whole', reason: 'missing' }], orphans: { found: 0, removed: 0, moved: 0, kept: 0, paths: [] } } as T;
        },
        async stream<T>(): Promise<T> { streamed = true; return { applied: 0, refused: [], bytes: 0 } as T; },
      } as unknown as PeerClient;
      const run = new MirrorRun({
        jobId: 'j', mirrorId: 'm', purpose: 'mirror', rules: [{ path: root, type: 'include', recursive: true }], mode: 'all',
        newerOnly: false, blockChecksum: false, orphans: { action: 'keep' }, compression: 0, peer, after: null,
        stats: emptyMirrorStats('m'), signal: new AbortController().signal, onBatch: async () => {},
      });
      await expect(run.run()).rejects.toMatchObject({ code: 'peer_protocol' });
      expect(streamed).toBe(false);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('MirrorRun: what a whole file carries', () => {
  it('the file as it is when it is sent, not as the walk saw it (replication may already have brought the target newer data)', async () => {
    const root = await mkdtemp(join(tmpdir(), 'tandem-mirror-'));
    try {
      const file = join(root, 'grows.log');
      await writeFile(file, 'a'.repeat(100));
      const sent: Array<{ op: FileOp; payload: Buffer }> = [];
      // The target's half, in process: between the walk and the send the file grows and gets a new time.
      const peer = {
        limit: new SharedLimit(),
        async json<T>(_path: string, body: unknown): Promise<T> {
          const req = body as ManifestRequest;
          await appendFile(file, 'b'.repeat(50));
          await utimes(file, 1_700_000_000, 1_700_000_000);
          const needs = req.entries.map((e: ManifestEntry) => (e.type === 'file' ? { action: 'whole', reason: 'missing' } : { action: 'skip', reason: 'identical' }));
          return { needs, orphans: { found: 0, removed: 0, moved: 0, kept: 0, paths: [] } } as T;
        },
        async stream<T>(_path: string, frames: AsyncIterable<Buffer>, _answer: z.ZodType<T>): Promise<T> {
          for await (const f of decodeFrames(frames)) sent.push({ op: f.header as FileOp, payload: Buffer.from(f.payload) });
          return { applied: sent.length, refused: [], bytes: 0 } as T;
        },
      } as unknown as PeerClient;
      const run = new MirrorRun({
        jobId: 'j', mirrorId: 'm', purpose: 'mirror', rules: [{ path: root, type: 'include', recursive: true }], mode: 'all',
        newerOnly: false, blockChecksum: false, orphans: { action: 'keep' }, compression: 0, peer, after: null,
        stats: emptyMirrorStats('m'), signal: new AbortController().signal, onBatch: async () => {},
      });
      await run.run();
      const whole = sent.find((s) => s.op.op === 'file');
      expect(whole?.payload.toString()).toBe('a'.repeat(100) + 'b'.repeat(50));
      expect(whole?.op).toMatchObject({ size: 150, meta: { mtimeMs: 1_700_000_000_000 } });
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('tells which paths it found gone when it came to send them, once their batch is sent', async () => {
    const work = await mkdtemp(join(tmpdir(), 'tandem-mirror-'));
    const root = join(work, 'set');
    try {
      await mkdir(root);
      await writeFile(join(root, 'stays'), 'kept');
      await writeFile(join(root, 'goes'), 'moved away after the walk');
      const peer = {
        limit: new SharedLimit(),
        async json<T>(_path: string, body: unknown): Promise<T> {
          const req = body as ManifestRequest;
          await rename(join(root, 'goes'), join(work, 'moved-out')).catch(() => {});
          const needs = req.entries.map((e: ManifestEntry) => (e.type === 'file' ? { action: 'whole', reason: 'missing' } : { action: 'skip', reason: 'identical' }));
          return { needs, orphans: { found: 0, removed: 0, moved: 0, kept: 0, paths: [] } } as T;
        },
        async stream<T>(_path: string, frames: AsyncIterable<Buffer>): Promise<T> {
          for await (const f of decodeFrames(frames)) void f;
          return { applied: 0, refused: [], bytes: 0 } as T;
        },
      } as unknown as PeerClient;
      const missed: string[][] = [];
      const batches: Array<string | null> = [];
      const run = new MirrorRun({
        jobId: 'j', mirrorId: 'm', purpose: 'mirror', rules: [{ path: root, type: 'include', recursive: true }], mode: 'all',
        newerOnly: false, blockChecksum: false, orphans: { action: 'keep' }, compression: 0, peer, after: null,
        stats: emptyMirrorStats('m'), signal: new AbortController().signal,
        onBatch: async (cursor) => { batches.push(cursor); }, onMissed: (paths) => missed.push([...paths, `after ${batches.length} batch`]),
      });
      await run.run();
      expect(missed).toEqual([[join(root, 'goes'), 'after 1 batch']]);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });

  it('never sends what a symlink put where a file was points to; the path is told as missed', async () => {
    const work = await mkdtemp(join(tmpdir(), 'tandem-mirror-'));
    const root = join(work, 'set');
    const secret = join(work, 'outside-secret');
    try {
      await mkdir(root);
      await writeFile(secret, 'SECRET outside the protected set');
      await writeFile(join(root, 'whole'), 'a file to send whole');
      await writeFile(join(root, 'delta'), 'x'.repeat(10_000));
      const sent: Array<{ op: FileOp; payload: Buffer }> = [];
      const peer = {
        limit: new SharedLimit(),
        async json<T>(_path: string, body: unknown): Promise<T> {
          const req = body as ManifestRequest;
          for (const name of ['whole', 'delta']) {
            await rm(join(root, name));
            await symlink(secret, join(root, name));
          }
          const needs = req.entries.map((e: ManifestEntry) => (e.path.endsWith('/whole') ? { action: 'whole', reason: 'missing' }
            : e.path.endsWith('/delta') ? { action: 'blocks', reason: 'size_or_time', blockSize: 4096, fileSize: 0, digests: '' }
            : { action: 'skip', reason: 'identical' }));
          return { needs, orphans: { found: 0, removed: 0, moved: 0, kept: 0, paths: [] } } as T;
        },
        async stream<T>(_path: string, frames: AsyncIterable<Buffer>): Promise<T> {
          for await (const f of decodeFrames(frames)) sent.push({ op: f.header as FileOp, payload: Buffer.from(f.payload) });
          return { applied: sent.length, refused: [], bytes: 0 } as T;
        },
      } as unknown as PeerClient;
      const missed: string[] = [];
      const run = new MirrorRun({
        jobId: 'j', mirrorId: 'm', purpose: 'mirror', rules: [{ path: root, type: 'include', recursive: true }], mode: 'all',
        newerOnly: false, blockChecksum: true, orphans: { action: 'keep' }, compression: 0, peer, after: null,
        stats: emptyMirrorStats('m'), signal: new AbortController().signal, onBatch: async () => {}, onMissed: (p) => missed.push(...p),
      });
      await run.run();
      expect(sent.filter((s) => s.payload.includes('SECRET'))).toEqual([]);
      expect(sent.filter((s) => s.op.path !== root && s.op.op !== 'meta')).toEqual([]);
      expect(missed).toContain(join(root, 'whole')); // opened without following: found no file there
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});

describe('reading a walked file that is a FIFO now', () => {
  it('neither waits for a writer (the open would hold the agent\'s main thread) nor reads one: the file is gone', async () => {
    const root = await mkdtemp(join(tmpdir(), 'tandem-mirror-'));
    const writer = fifoWithLateWriter(join(root, 'was-a-file'), 'written into the FIFO');
    try {
      expect(openNow(join(root, 'was-a-file'))).toBeNull();
      expect(await readRange(join(root, 'was-a-file'), 0, 4096)).toBeNull();
    } finally {
      writer.stop();
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('MirrorRun: a batch that fails and is sent again', () => {
  it('counts its files and bytes once, not once per attempt', async () => {
    const root = await mkdtemp(join(tmpdir(), 'tandem-mirror-'));
    try {
      for (const n of ['a', 'b', 'c']) await writeFile(join(root, n), n.repeat(1000));
      let attempts = 0;
      const peer = {
        limit: new SharedLimit(),
        async json<T>(_path: string, body: unknown): Promise<T> {
          const needs = (body as ManifestRequest).entries.map((e: ManifestEntry) => (e.type === 'file' ? { action: 'whole', reason: 'missing' } : { action: 'skip', reason: 'identical' }));
          return { needs, orphans: { found: 0, removed: 0, moved: 0, kept: 0, paths: [] } } as T;
        },
        async stream<T>(_path: string, frames: AsyncIterable<Buffer>): Promise<T> {
          for await (const _ of decodeFrames(frames)) { /* the target reads the whole batch… */ }
          // …and fails to apply it the first time (a full disk, say).
          if (++attempts === 1) throw Object.assign(new Error('The target has no space left'), { code: 'target_out_of_space' });
          return { applied: 4, refused: [], bytes: 3000 } as T;
        },
      } as unknown as PeerClient;
      const stats = emptyMirrorStats('m');
      const params = {
        jobId: 'j', mirrorId: 'm', purpose: 'mirror' as const, rules: [{ path: root, type: 'include' as const, recursive: true }], mode: 'all' as const,
        newerOnly: false, blockChecksum: false, orphans: { action: 'keep' as const }, compression: 0, peer, after: null,
        stats, signal: new AbortController().signal, onBatch: async () => {},
      };
      await expect(new MirrorRun(params).run()).rejects.toMatchObject({ code: 'target_out_of_space' });
      expect(stats).toMatchObject({ filesSent: 0, bytesSent: 0 });
      await new MirrorRun(params).run();
      expect(attempts).toBe(2);
      expect(stats).toMatchObject({ filesSent: 3, bytesSent: 3000 });
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('MirrorRun: a directory too large for one request', () => {
  it('sends its names in parts, and the target looks for orphans only against all of them', async () => {
    const { ReplicaFs } = await import('../target/replica-fs');
    const { answerManifest } = await import('../target/manifest');
    const { DirNameParts } = await import('../target/dir-name-parts');
    const { ManifestRequest: RequestSchema } = await import('../../shared/protocol/data-port');
    const { readdir: list } = await import('node:fs/promises');
    const base = await mkdtemp(join(tmpdir(), 'tandem-mirror-'));
    try {
      const src = join(base, 'src');
      const dst = join(base, 'dst');
      await mkdir(src);
      await mkdir(dst);
      const names = Array.from({ length: 100 }, (_, i) => `file-${String(i).padStart(3, '0')}`);
      for (const n of names) {
        await writeFile(join(src, n), n);
        await writeFile(join(dst, n), n);
      }
      for (const n of ['orphan-a', 'orphan-b', 'zz-orphan']) await writeFile(join(dst, n), 'not on the source');
      const replica = new ReplicaFs([{ path: src, type: 'include', recursive: true }], { mode: 'custom', entries: [{ source: src, target: dst }] }, 'src');
      const parts = new DirNameParts();
      const requests: ManifestRequest[] = [];
      const peer = {
        limit: new SharedLimit(),
        // The target's half, in process, through the shared schema as over the wire.
        async json<T>(_path: string, body: unknown): Promise<T> {
          const req = RequestSchema.parse(JSON.parse(JSON.stringify(body)));
          requests.push(req);
          return await answerManifest(replica, req, (fn) => fn(), parts) as T;
        },
        async stream<T>(_path: string, frames: AsyncIterable<Buffer>): Promise<T> {
          for await (const _ of decodeFrames(frames)) { /* nothing to write: the target has every file */ }
          return { applied: 0, refused: [], bytes: 0 } as T;
        },
      } as unknown as PeerClient;
      const stats = emptyMirrorStats('m');
      await new MirrorRun({
        jobId: 'j', mirrorId: 'm', purpose: 'mirror', rules: [{ path: src, type: 'include', recursive: true }], mode: 'different',
        newerOnly: false, blockChecksum: false, orphans: { action: 'delete' }, compression: 0, peer, after: null,
        stats, signal: new AbortController().signal, onBatch: async () => {}, dirNameParts: 30,
      }).run();
      const partsSent = requests.flatMap((r) => r.dirs.filter((d) => d.path === src).map((d) => ({ n: d.names.length, more: !!d.more, entries: r.entries.length })));
      expect(partsSent).toEqual([{ n: 30, more: true, entries: 0 }, { n: 30, more: true, entries: 0 }, { n: 30, more: true, entries: 0 }, { n: 10, more: false, entries: expect.any(Number) }]);
      expect((await list(dst)).sort()).toEqual(names);
      expect(stats.orphansFound).toBe(3);

      // A target that did not say it takes parts (an older one would read a part as the whole listing) gets one request.
      requests.length = 0;
      await new MirrorRun({
        jobId: 'j', mirrorId: 'm2', purpose: 'mirror', rules: [{ path: src, type: 'include', recursive: true }], mode: 'different',
        newerOnly: false, blockChecksum: false, orphans: { action: 'delete' }, compression: 0, peer, after: null,
        stats: emptyMirrorStats('m2'), signal: new AbortController().signal, onBatch: async () => {}, dirNameParts: false,
      }).run();
      expect(requests.flatMap((r) => r.dirs.filter((d) => d.path === src).map((d) => d.names.length))).toEqual([100]);
      expect((await list(dst)).sort()).toEqual(names);
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });
});

describe('splitNames', () => {
  it('cuts by count and by bytes, keeps order, and always gives at least one part', () => {
    expect(splitNames(['a', 'b', 'c', 'd', 'e'], 2, 1000)).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    expect(splitNames(['x'.repeat(10), 'y'.repeat(10), 'z'], 100, 20)).toEqual([['x'.repeat(10)], ['y'.repeat(10), 'z']]);
    expect(splitNames([], 2, 1000)).toEqual([[]]);
    expect(splitNames(['a very long name beyond the byte budget'], 2, 5)).toEqual([['a very long name beyond the byte budget']]);
  });
});
