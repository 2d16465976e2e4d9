// The queue's small state file (sequence numbers, clean-shutdown flag), replaced atomically: temp + fsync + rename.
import { open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { TandemError } from '../../../shared/errors';
import type { QueueProblem } from './types';

export const STATE_FILE = 'queue-state.json';

export interface PersistedQueueState {
  version: 1;
  /** Last sequence number handed out when this was written. */
  lastSeq: number;
  ackedSeq: number;
  /**
   * Sequence numbers up to here may have been handed out. After a crash numbering resumes above it,
   * so a number the target may already have seen is never reused.
   */
  seqReservedThrough: number;
  /** True only when written by `close()`; the running process keeps it false. */
  cleanShutdown: boolean;
  /** A pending exhausted/broken condition survives a restart until `discardAll()`. */
  problem: QueueProblem | null;
}

export async function readQueueState(dir: string): Promise<PersistedQueueState | null> {
  const path = join(dir, STATE_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const s = JSON.parse(text) as PersistedQueueState;
    const ints = [s.lastSeq, s.ackedSeq, s.seqReservedThrough];
    if (s.version !== 1 || !ints.every((n) => Number.isSafeInteger(n) && n >= 0) || typeof s.cleanShutdown !== 'boolean') {
      throw new Error('unexpected fields');
    }
    return { ...s, problem: s.problem ?? null };
  } catch (err) {
    // Written by rename, so this is outside damage rather than a torn write.
    throw new TandemError(
      'queue_state_corrupt',
      `queue state file ${path} is unreadable (${(err as Error).message}); ` +
        'stop the agent, delete the queue directory and remirror the job',
      500,
    );
  }
}

export async function writeQueueState(dir: string, state: PersistedQueueState): Promise<void> {
  const path = join(dir, STATE_FILE);
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(JSON.stringify(state));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  await fsyncDir(dir);
}

/** Makes a create, rename or unlink in `dir` durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
