// Persistent agent identity in its data dir: which hub, which server id, and the agent credential (mode 0600).
import { readFile, rename, mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';

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

export async function readJson<T>(file: string, schema: z.ZodType<T>): Promise<T | null> {
  try {
    return schema.parse(JSON.parse(await readFile(file, 'utf8')));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export const identityFile = (dataDir: string) => path.join(dataDir, 'identity.json');

export const loadIdentity = (dataDir: string) => readJson(identityFile(dataDir), AgentIdentity);
export const saveIdentity = (dataDir: string, id: AgentIdentity) => writeFileAtomic(identityFile(dataDir), JSON.stringify(id, null, 2));

