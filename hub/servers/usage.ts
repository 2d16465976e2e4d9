// Which jobs use a server: a server in use cannot be removed.
import { eq, or } from 'drizzle-orm';
import { jobs } from '../db/schema';
import type { HubDeps } from '../deps';

export async function jobsUsingServer(deps: HubDeps, serverId: string): Promise<string[]> {
  const rows = await deps.db.select({ name: jobs.name }).from(jobs).where(or(eq(jobs.sourceServerId, serverId), eq(jobs.targetServerId, serverId)));
  return rows.map((r) => r.name);
}
