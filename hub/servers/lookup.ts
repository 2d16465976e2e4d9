// Finds a server of the caller's org by id or by name.
import { and, eq, or } from 'drizzle-orm';
import { notFound } from '../../shared/errors';
import { servers } from '../db/schema';
import type { Db } from '../db/types';

export async function findServer(db: Db, orgId: string, idOrName: string) {
  const [row] = await db.select().from(servers)
    .where(and(eq(servers.orgId, orgId), or(eq(servers.id, idOrName), eq(servers.name, idOrName))));
  if (!row) throw notFound('server', idOrName);
  return row;
}
