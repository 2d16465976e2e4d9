// Small JSON state files written atomically (temp + fsync + rename), and a per-file lock so read-modify-write
// sequences within one agent never interleave. Used for blocked-path modes and the snapshot index.
import { open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';

export async function readJsonFile(file: string): Promise<unknown | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return JSON.parse(text) as unknown;
}

export async function writeJsonFileAtomic(file: string, value: unknown, mode = 0o600): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  const handle = await open(tmp, 'w', mode);
  try {
    await handle.writeFile(JSON.stringify(value, null, 2) + '\n');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  // The rename itself is durable only once the directory is synced.
  const dir = await open(path.dirname(file), 'r');
  try { await dir.sync(); } catch { /* some file systems refuse fsync on directories */ } finally { await dir.close(); }
}

const locks = new Map<string, Promise<unknown>>();

/** Runs `body` after every earlier body with the same key has finished (in this process). */
export function withFileLock<T>(key: string, body: () => Promise<T>): Promise<T> {
  const previous = locks.get(key) ?? Promise.resolve();
  const run = previous.then(body, body);
  const tail = run.catch(() => undefined);
  locks.set(key, tail);
  void tail.then(() => { if (locks.get(key) === tail) locks.delete(key); });
  return run;
}
