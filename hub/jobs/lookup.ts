// Finds a job of the caller's org by id or name.
import { and, eq, or } from 'drizzle-orm';
import { notFound } from '../../shared/errors';
import { jobs } from '../db/schema';
import type { Db } from '../db/types';

export type JobRow = typeof jobs.$inferSelect;

export async function findJob(db: Db, orgId: string, idOrName: string): Promise<JobRow> {
  const [row] = await db.select().from(jobs).where(and(eq(jobs.orgId, orgId), or(eq(jobs.id, idOrName), eq(jobs.name, idOrName))));
  if (!row) throw notFound('job', idOrName);
  return row;
}
