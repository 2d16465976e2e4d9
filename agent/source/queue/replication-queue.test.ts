// Integration tests: real temp directories and real segment files; only free space and the clock are injected.
import { appendFile, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeRecord } from './record-codec';
import { ReplicationQueue, type ReplicationQueueOptions } from './replication-queue';
import type { EnqueueResult, QueuedRecord } from './types';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tandem-queue-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const plentyOfSpace = async () => ({ bavail: 1_000_000, bsize: 4096 });

/** Every test op has the same encoded size, so limits can be written in ops. */
const op = (n: number) => ({ kind: 'write', header: { path: `/data/f${n}` }, payload: Buffer.alloc(100, n % 256) });
const OP_BYTES = encodeRecord({ seq: 1, enqueuedAt: 0, ...op(1) }).length;

function open(options: ReplicationQueueOptions = {}) {
  return ReplicationQueue.open(dir, { statfs: plentyOfSpace, diskFreeMinBytes: 0, ...options });
}

async function enqueueMany(q: ReplicationQueue, from: number, to: number): Promise<number[]> {
  const seqs: number[] = [];
  for (let n = from; n <= to; n++) seqs.push(expectSeq(await q.enqueue(op(n))));
  return seqs;
}

function expectSeq(r: EnqueueResult): number {
  if (!r.ok) throw new Error(`enqueue refused: ${r.problem.reason}`);
  return r.seq;
}

const seqsOf = (records: QueuedRecord[]) => records.map((r) => r.seq);
const segmentFiles = async () => (await readdir(dir)).filter((n) => n.endsWith('.tq')).sort();
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('ReplicationQueue ordering', () => {
  it('numbers ops from 1 and returns them in order across the memory/disk boundary', async () => {
    const q = await open({ memoryMaxBytes: 3 * OP_BYTES });
    expect(await enqueueMany(q, 1, 10)).toEqual(range(1, 10));
    expect(q.stats()).toMatchObject({ memoryOps: 3, memoryBytes: 3 * OP_BYTES, diskOps: 7, lastSeq: 10, ackedSeq: 0 });

    const records = await q.peekFrom(1, Infinity);
    expect(seqsOf(records)).toEqual(range(1, 10));
    expect(records[6]).toMatchObject({ kind: 'write', header: { path: '/data/f7' }, payload: Buffer.alloc(100, 7) });
    await q.close();
  });

  it('numbers concurrent enqueues in call order', async () => {
    const q = await open({ memoryMaxBytes: 5 * OP_BYTES, segmentBytes: 4 * OP_BYTES });
    const results = await Promise.all(range(1, 20).map((n) => q.enqueue(op(n))));
    expect(results.map(expectSeq)).toEqual(range(1, 20));
    const records = await q.peekFrom(1, Infinity);
    expect(records.map((r) => r.header.path)).toEqual(range(1, 20).map((n) => `/data/f${n}`));
    await q.close();
  });

  it('keeps new ops on disk until the disk part is acknowledged, then goes back to memory', async () => {
    const q = await open({ memoryMaxBytes: 2 * OP_BYTES });
    await enqueueMany(q, 1, 4); // 1-2 memory, 3-4 disk
    await q.ack(2); // memory empty, disk still holds 3-4
    await enqueueMany(q, 5, 5);
    expect(q.stats()).toMatchObject({ memoryOps: 0, diskOps: 3 });
    expect(seqsOf(await q.peekFrom(1, Infinity))).toEqual([3, 4, 5]);

    await q.ack(5);
    expect(q.stats()).toMatchObject({ diskOps: 0, diskBytes: 0 });
    expect(await segmentFiles()).toEqual([]);
    await enqueueMany(q, 6, 6);
    expect(q.stats()).toMatchObject({ memoryOps: 1, diskOps: 0 });
    await q.close();
  });

  it('peekFrom honours maxBytes but always returns at least one op, and resends from any seq', async () => {
    const q = await open({ memoryMaxBytes: 2 * OP_BYTES, segmentBytes: 3 * OP_BYTES });
    await enqueueMany(q, 1, 9);
    expect(seqsOf(await q.peekFrom(1, 2 * OP_BYTES))).toEqual([1, 2]);
    expect(seqsOf(await q.peekFrom(2, 3 * OP_BYTES))).toEqual([2, 3, 4]);
    expect(seqsOf(await q.peekFrom(5, 1))).toEqual([5]);
    expect(seqsOf(await q.peekFrom(7, Infinity))).toEqual([7, 8, 9]);
    // After a disconnect the sender goes back to the last acknowledged seq.
    await q.ack(3);
    expect(seqsOf(await q.peekFrom(1, Infinity))).toEqual(range(4, 9));
    expect(await q.peekFrom(10, Infinity)).toEqual([]);
    await q.close();
  });

  it('readFrom iterates across segments and, with follow, waits for new ops', async () => {
    const q = await open({ memoryMaxBytes: 2 * OP_BYTES, segmentBytes: 2 * OP_BYTES });
    await enqueueMany(q, 1, 7);
    const all: number[] = [];
    for await (const r of q.readFrom(2, { batchBytes: OP_BYTES })) all.push(r.seq);
    expect(all).toEqual(range(2, 7));

    const abort = new AbortController();
    const seen: number[] = [];
    const follower = (async () => {
      for await (const r of q.readFrom(6, { follow: true, signal: abort.signal })) {
        seen.push(r.seq);
        if (r.seq === 9) abort.abort();
      }
    })();
    await enqueueMany(q, 8, 9);
    await follower;
    expect(seen).toEqual([6, 7, 8, 9]);
    await q.close();
  });
});

describe('ReplicationQueue restart recovery', () => {
  it('close and reopen continues numbering and resends every unacknowledged op', async () => {
    const q = await open({ memoryMaxBytes: 3 * OP_BYTES });
    await enqueueMany(q, 1, 6); // 1-3 in memory, 4-6 on disk
    await q.ack(2);
    expect(await q.close()).toEqual({ savedOps: 1, droppedOps: 0 }); // op 3 saved from memory

    const again = await open({ memoryMaxBytes: 3 * OP_BYTES });
    expect(again.recovery).toEqual({ cleanShutdown: true, recoveredOps: 4, truncatedBytes: 0, lostSeqs: null });
    expect(again.stats()).toMatchObject({ state: 'ok', lastSeq: 6, ackedSeq: 2, diskOps: 4, memoryOps: 0 });
    expect(seqsOf(await again.peekFrom(1, Infinity))).toEqual([3, 4, 5, 6]);
    expect(await again.enqueue(op(7))).toEqual({ ok: true, seq: 7 });
    expect(seqsOf(await again.peekFrom(3, Infinity))).toEqual([3, 4, 5, 6, 7]);
    await again.close();
  });

  it('does not resend ops acknowledged before the restart', async () => {
    const q = await open({ memoryMaxBytes: 0, segmentBytes: 2 * OP_BYTES });
    await enqueueMany(q, 1, 5);
    await q.ack(3);
    await q.close();
    const again = await open({ memoryMaxBytes: 0, segmentBytes: 2 * OP_BYTES });
    expect(seqsOf(await again.peekFrom(1, Infinity))).toEqual([4, 5]);
    await again.close();
  });

  it('keeps the enqueue time of the oldest unacknowledged op across a restart', async () => {
    let clock = 1_000;
    const now = () => clock;
    const q = await open({ memoryMaxBytes: OP_BYTES, now });
    await q.enqueue(op(1));
    clock = 2_000;
    await q.enqueue(op(2));
    expect(q.stats().oldestUnackedAt).toBe(1_000);
    await q.ack(1);
    expect(q.stats().oldestUnackedAt).toBe(2_000);
    await q.close();
    const again = await open({ now });
    expect(again.stats().oldestUnackedAt).toBe(2_000);
    await again.ack(2);
    expect(again.stats().oldestUnackedAt).toBeNull();
    await again.close();
  });

  it('without a disk queue, ops in memory at shutdown are reported lost on the next open', async () => {
    const q = await open({ diskMaxBytes: 0 });
    await enqueueMany(q, 1, 2);
    expect(await q.close()).toEqual({ savedOps: 0, droppedOps: 2 });
    const again = await open({ diskMaxBytes: 0 });
    expect(again.stats()).toMatchObject({ state: 'broken', lastSeq: 2 });
    expect(again.problem?.cause).toBe('ops_lost');
    await expect(again.peekFrom(1, Infinity)).rejects.toMatchObject({ code: 'queue_ops_lost' });
    await again.discardAll();
    expect(await again.enqueue(op(3))).toEqual({ ok: true, seq: 3 });
    await again.close();
  });
});

describe('ReplicationQueue damaged segment files', () => {
  async function queueOnDisk(count: number): Promise<string> {
    const q = await open({ memoryMaxBytes: 0 });
    await enqueueMany(q, 1, count);
    await q.close();
    const [file] = await segmentFiles();
    return join(dir, file!);
  }

  it('drops a record cut mid-way at the tail and keeps the earlier ones', async () => {
    const file = await queueOnDisk(3);
    await truncate(file, 3 * OP_BYTES - 40);

    const q = await open();
    expect(q.recovery).toMatchObject({ truncatedBytes: OP_BYTES - 40, recoveredOps: 2, lostSeqs: { from: 3, to: 3 } });
    expect((await stat(file)).size).toBe(2 * OP_BYTES);
    expect(seqsOf(await q.peekFrom(1, Infinity))).toEqual([1, 2]);
    // Op 3 was reported durable by close() and is gone: the job must remirror.
    expect(q.problem).toMatchObject({ state: 'broken', cause: 'ops_lost' });
    expect(q.problem?.reason).toContain('seq 3-3 missing');
    await q.close();
  });

  it('cuts garbage appended after the last record without losing anything', async () => {
    const file = await queueOnDisk(3);
    await appendFile(file, Buffer.from('garbage after a crash mid-append'));

    const q = await open();
    expect(q.recovery).toMatchObject({ truncatedBytes: 32, recoveredOps: 3, lostSeqs: null });
    expect(q.stats().state).toBe('ok');
    expect(seqsOf(await q.peekFrom(1, Infinity))).toEqual([1, 2, 3]);
    expect(await q.enqueue(op(4))).toEqual({ ok: true, seq: 4 });
    await q.close();
  });

  it('drops a tail record whose checksum does not match', async () => {
    const file = await queueOnDisk(3);
    const bytes = await readFile(file);
    bytes[bytes.length - 10]! ^= 0x01; // one bit in op 3's payload
    await writeFile(file, bytes);

    const q = await open();
    expect(q.recovery).toMatchObject({ truncatedBytes: OP_BYTES, recoveredOps: 2, lostSeqs: { from: 3, to: 3 } });
    expect(q.problem?.reason).toContain('checksum mismatch');
    const records = await q.peekFrom(1, Infinity);
    expect(seqsOf(records)).toEqual([1, 2]);
    expect(records[1]!.payload).toEqual(Buffer.alloc(100, 2));
    await q.close();
  });

  it('after a crash with a torn tail: earlier flushed ops survive, the queue asks for a remirror, numbers are not reused', async () => {
    const crashed = await open({ memoryMaxBytes: 0 });
    await enqueueMany(crashed, 1, 3);
    await crashed.flush();
    // No close(): the process died while appending op 4.
    const [file] = await segmentFiles();
    await appendFile(join(dir, file!), encodeRecord({ seq: 4, enqueuedAt: 0, ...op(4) }).subarray(0, 30));

    const q = await open({ memoryMaxBytes: 0 });
    expect(q.recovery).toMatchObject({ cleanShutdown: false, recoveredOps: 3, truncatedBytes: 30 });
    expect(seqsOf(await q.peekFrom(1, 3 * OP_BYTES))).toEqual([1, 2, 3]);
    expect(q.problem).toMatchObject({ state: 'broken', cause: 'ops_lost' });
    expect(q.problem?.reason).toContain('without closing the queue');
    const refused = await q.enqueue(op(5));
    expect(refused.ok).toBe(false);

    await q.discardAll();
    expect(await segmentFiles()).toEqual([]);
    const next = expectSeq(await q.enqueue(op(5)));
    expect(next).toBeGreaterThan(1_000_000); // skips every number the crashed process may have handed out
    expect(seqsOf(await q.peekFrom(0, Infinity))).toEqual([next]);
    await q.close();
  });
});

describe('ReplicationQueue acknowledgements', () => {
  it('ack deletes segments once every record in them is acknowledged', async () => {
    const q = await open({ memoryMaxBytes: 0, segmentBytes: 2 * OP_BYTES });
    await enqueueMany(q, 1, 6);
    expect(await segmentFiles()).toHaveLength(3);
    expect(q.stats().diskBytes).toBe(6 * OP_BYTES);

    await q.ack(3); // segment 1-2 fully acked, 3-4 only half
    expect(await segmentFiles()).toHaveLength(2);
    expect(q.stats()).toMatchObject({ diskOps: 3, diskBytes: 4 * OP_BYTES, ackedSeq: 3 });
    await q.ack(6);
    expect(await segmentFiles()).toEqual([]);
    expect(q.stats()).toMatchObject({ diskOps: 0, diskBytes: 0, oldestUnackedAt: null });
    await q.close();
  });

  it('refuses an ack beyond the last queued op', async () => {
    const q = await open();
    await enqueueMany(q, 1, 2);
    await expect(q.ack(3)).rejects.toMatchObject({ code: 'queue_ack_ahead' });
    await q.close();
  });
});

describe('ReplicationQueue exhaustion', () => {
  it('memory full with no disk queue: exhausted with a reason, later ops refused, discardAll resets', async () => {
    const q = await open({ memoryMaxBytes: 2 * OP_BYTES, diskMaxBytes: 0 });
    await enqueueMany(q, 1, 2);
    const refused = await q.enqueue(op(3));
    expect(refused).toMatchObject({ ok: false, problem: { state: 'exhausted', cause: 'memory_full' } });
    expect(!refused.ok && refused.problem.reason).toMatch(/^memory queue full: .* limit reached and the disk queue is disabled; raise queue.memoryMaxMB/);
    // A smaller op would fit, but must not be queued after a dropped one.
    expect((await q.enqueue({ kind: 'x', header: {} })).ok).toBe(false);
    expect(q.stats()).toMatchObject({ state: 'exhausted', lastSeq: 2 });

    await q.discardAll();
    expect(q.stats()).toMatchObject({ state: 'ok', problem: null, memoryOps: 0, lastSeq: 2, ackedSeq: 2 });
    expect(await q.peekFrom(1, Infinity)).toEqual([]);
    expect(await q.enqueue(op(3))).toEqual({ ok: true, seq: 3 });
    await q.close();
  });

  it('disk queue at diskMaxBytes: exhausted with an operator reason that survives a restart', async () => {
    const limits = { memoryMaxBytes: OP_BYTES, diskMaxBytes: 3 * OP_BYTES, segmentBytes: 2 * OP_BYTES };
    const q = await open(limits);
    await enqueueMany(q, 1, 4); // 1 memory, 2-4 disk
    const refused = await q.enqueue(op(5));
    expect(refused.ok).toBe(false);
    expect(!refused.ok && refused.problem.reason).toBe(
      `disk queue full: ${3 * OP_BYTES} bytes limit reached; raise queue.diskMaxMB or free space in ${dir}`,
    );
    await q.close();

    const again = await open(limits);
    expect(again.stats()).toMatchObject({ state: 'exhausted', problem: { cause: 'disk_limit' } });
    expect((await again.enqueue(op(5))).ok).toBe(false);
    await again.discardAll();
    expect(await segmentFiles()).toEqual([]);
    expect(again.stats()).toMatchObject({ state: 'ok', diskOps: 0, diskBytes: 0, memoryOps: 0 });
    expect(expectSeq(await again.enqueue(op(5)))).toBe(5);
    await again.close();
  });

  it('names the limit in MB the way an operator configured it', async () => {
    const MiB = 1024 * 1024;
    const big = { kind: 'write', header: {}, payload: Buffer.alloc(MiB) };
    const q = await open({ memoryMaxBytes: 0, diskMaxBytes: 2 * MiB });
    expect((await q.enqueue(big)).ok).toBe(true);
    const refused = await q.enqueue(big);
    expect(!refused.ok && refused.problem.reason).toBe(
      `disk queue full: 2 MB limit reached; raise queue.diskMaxMB or free space in ${dir}`,
    );
    await q.close();
  });

  it('stops before free space in the queue directory drops below diskFreeMinBytes', async () => {
    let free = 10 * OP_BYTES + 1000;
    const statfs = async () => ({ bavail: free, bsize: 1 });
    const q = await open({ memoryMaxBytes: OP_BYTES, diskFreeMinBytes: 1000, statfs, freeSpaceCheckIntervalMs: 0 });
    await enqueueMany(q, 1, 3); // 1 memory, 2-3 disk
    free -= 2 * OP_BYTES; // what our writes used
    free -= 7 * OP_BYTES; // another program fills the volume
    expect(q.stats().diskFreeBytes).toBe(10 * OP_BYTES + 1000);

    expect((await q.enqueue(op(4))).ok).toBe(true); // exactly reaches the minimum
    free -= OP_BYTES;
    const refused = await q.enqueue(op(5));
    expect(refused).toMatchObject({ ok: false, problem: { state: 'exhausted', cause: 'disk_free' } });
    expect(!refused.ok && refused.problem.reason).toBe(
      `disk queue stopped: 1000 bytes free in ${dir}, the minimum to keep free is 1000 bytes (queue.diskFreeMinMB); ` +
        'free space there or move the queue to a larger volume',
    );
    expect(q.stats()).toMatchObject({ lastSeq: 4, state: 'exhausted', diskFreeBytes: 1000 });

    await q.discardAll();
    free += 3 * OP_BYTES;
    expect((await q.enqueue(op(5))).ok).toBe(true);
    await q.close();
  });

  it('takes new limits while open: later enqueues are measured against them, what is queued stays', async () => {
    const q = await open({ memoryMaxBytes: 10 * OP_BYTES });
    await enqueueMany(q, 1, 3);
    q.setLimits({ ...q.limits, memoryMaxBytes: 3 * OP_BYTES, diskMaxBytes: 0 });
    expect(q.limits.memoryMaxBytes).toBe(3 * OP_BYTES);
    expect(q.stats()).toMatchObject({ memoryOps: 3 });
    expect(await q.enqueue(op(4))).toMatchObject({ ok: false, problem: { cause: 'memory_full' } });
    await q.close();
  });

  it('does not save memory to disk at shutdown past the free-space minimum', async () => {
    const statfs = async () => ({ bavail: OP_BYTES, bsize: 1 });
    const q = await open({ diskFreeMinBytes: 1, statfs });
    await enqueueMany(q, 1, 2);
    expect(await q.close()).toEqual({ savedOps: 0, droppedOps: 2 });
    const again = await open({ diskFreeMinBytes: 1, statfs });
    expect(again.problem?.reason).toMatch(/2 queued operations held in memory could not be saved at shutdown: disk queue stopped/);
    await again.close();
  });
});
