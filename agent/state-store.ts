// Persistent agent identity in its data dir: which hub, which server id, and the agent credential (mode 0600).
import { readFile, rename, mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { TandemError } from '../shared/errors';
import { zodMessageOf } from './zod-message';

export const AgentIdentity = z.object({
  hubUrl: z.string(),
  serverId: z.string(),
  orgId: z.string(),
  credential: z.string(),
  enrolledAt: z.string(),
});
export type AgentIdentity = z.infer<typeof AgentIdentity>;

/** Writes a file atomically and durably: temp file, fsync, rename. */
export async function writeFileAtomic(file: string, data: string, mode = 0o600): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${process.pid}`;
  const fh = await open(tmp, 'w', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
}

/**
 * A state file the agent wrote with writeFileAtomic, or null when there is none. A damaged one (not JSON, or not what
 * the agent writes there) is an error naming the file and what to do, not a bare parser message.
 */
export async function readJson<T>(file: string, schema: z.ZodType<T>): Promise<T | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  let why: string;
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data;
    why = zodMessageOf(parsed.error, 'the file');
  } catch (err) {
    why = (err as Error).message;
  }
  const identity = path.basename(file) === 'identity.json';
  throw new TandemError('state_file_damaged', `${file} is damaged (${why}). The agent writes it whole or not at all, so something else changed it. `
    + (identity
      ? 'Restore it from a backup; without it the agent must enrol again (--token), and the hub then knows it as a new server.'
      : 'Restore it from a backup, or move it aside and start the agent again: what it held is then rebuilt (a job may mirror again).'));
}

export const identityFile = (dataDir: string) => path.join(dataDir, 'identity.json');

export const loadIdentity = (dataDir: string) => readJson(identityFile(dataDir), AgentIdentity);
export const saveIdentity = (dataDir: string, id: AgentIdentity) => writeFileAtomic(identityFile(dataDir), JSON.stringify(id, null, 2));

