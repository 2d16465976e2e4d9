// Block digests of the capture's read buffers, computed on a worker thread. The capture's main thread also
// compresses and encrypts the replication stream; hashing a large write there (sha256, ~0.75 s of CPU per GiB
// on the benchmark machine) kept the stream waiting. Buffers in a SharedArrayBuffer are handed over without a
// copy; anything else, small buffers, and every call after the worker failed, are hashed inline (same digests).
import { Worker } from 'node:worker_threads';
import { BLOCK_DIGEST_BYTES, hashBlocks } from '../../../shared/delta';

/** Below this a round trip to the worker costs more than hashing inline. */
const MIN_OFFLOAD_BYTES = 256 * 1024;

// Plain CommonJS evaluated in the worker (no TypeScript loader there). Same digest as shared/delta's digestBlock.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
parentPort.on('message', ({ id, data, blockSize, digestBytes }) => {
  const n = Math.ceil(data.length / blockSize);
  const out = new Uint8Array(n * digestBytes);
  for (let i = 0; i < n; i++) {
    const d = createHash('sha256').update(data.subarray(i * blockSize, (i + 1) * blockSize)).digest();
    out.set(d.subarray(0, digestBytes), i * digestBytes);
  }
  parentPort.postMessage({ id, digests: out });
});
`;

interface Pending {
  data: Buffer;
  blockSize: number;
  resolve: (digests: Buffer) => void;
}

export class BlockHashWorker {
  private worker: Worker | null = null;
  private failed = false;
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  /** Buffers the worker hashed (tests and diagnostics). */
  offloaded = 0;

  /** A read buffer the worker can see without a copy. */
  static allocShared(bytes: number): Buffer {
    return Buffer.from(new SharedArrayBuffer(bytes));
  }

  /** The block digests of `data` (as hashBlocks(data, blockSize).digests). */
  digests(data: Buffer, blockSize: number): Promise<Buffer> {
    if (this.failed || data.length < MIN_OFFLOAD_BYTES || !(data.buffer instanceof SharedArrayBuffer)) {
      return Promise.resolve(hashBlocks(data, blockSize).digests);
    }
    const worker = this.start();
    const id = ++this.nextId;
    return new Promise((resolve) => {
      this.pending.set(id, { data, blockSize, resolve });
      worker.postMessage({ id, data, blockSize, digestBytes: BLOCK_DIGEST_BYTES });
    });
  }

  /** Stops the worker; later calls hash inline. */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    this.failed = true;
    this.fallBack();
    await w?.terminate();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(WORKER_SOURCE, { eval: true });
    w.unref(); // an idle hasher never keeps the agent alive
    w.on('message', ({ id, digests }: { id: number; digests: Uint8Array }) => {
      const p = this.pending.get(id);
      if (!p) return;
      this.pending.delete(id);
      this.offloaded++;
      p.resolve(Buffer.from(digests.buffer, digests.byteOffset, digests.byteLength));
    });
    const fail = () => {
      if (this.worker !== w) return;
      this.worker = null;
      this.failed = true;
      this.fallBack();
    };
    w.on('error', fail);
    w.on('exit', fail);
    this.worker = w;
    return w;
  }

  /** Whatever the worker had not answered is hashed here. */
  private fallBack(): void {
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.resolve(hashBlocks(p.data, p.blockSize).digests);
    }
  }
}

/** The agent's one hasher (a worker thread, started on first use). */
export const blockHashWorker = new BlockHashWorker();
