// What licensing means for jobs, for the jobs module to call: the issues that block (or warn about) new protection,
// and job seats. Failover, restore and failback never call this: recovering data is never blocked by a licence.
import { and, eq, ne, sql } from 'drizzle-orm';
import { TandemError } from '../../shared/errors';
import { editionIssues, serialLabel, LICENCE_TYPES, type Edition, type ServerRole } from '../../shared/licensing';
import { licences, licenceAssignments, jobSeats, servers } from '../db/schema';
import type { HubDeps } from '../deps';
import { rowStatus, serverHost, seatsUsed, type LicenceRow, type ServerRow } from './store';

export interface LicenceIssue {
  severity: 'error' | 'warning';
  code: string;
  message: string;
}

export interface JobLicenceQuery {
  sourceServerId: string;
  targetServerId: string;
  jobType: string;
}

const rank = { ok: 0, warning: 1, error: 2 } as const;

/** The best licence a server holds now (ok before warning before error), or null when it has none. */
export async function serverLicence(deps: HubDeps, s: ServerRow) {
  const rows = await deps.db.select({ a: licenceAssignments, l: licences }).from(licenceAssignments)
    .innerJoin(licences, eq(licences.id, licenceAssignments.licenceId))
    .where(and(eq(licenceAssignments.serverId, s.id), eq(licenceAssignments.orgId, s.orgId), ne(licenceAssignments.state, 'deactivated')));
  let best: { licence: LicenceRow; status: Awaited<ReturnType<typeof rowStatus>> } | null = null;
  for (const { a, l } of rows) {
    if (LICENCE_TYPES[l.type].seats) continue;
    const status = await rowStatus(l, a, s, deps.clock.now());
    if (!best || rank[status.health] < rank[best.status.health]) best = { licence: l, status };
  }
  return best;
}

/**
 * Licence problems for creating or starting a job between two servers: `error`s refuse the job (no licence, expired,
 * not activated in time, host mismatch, edition does not allow this role/size/type, no free job seat); `warning`s
 * (expiring, activation pending) let it run. Both servers are looked up in `orgId` only.
 */
export async function licenceIssuesForJob(deps: HubDeps, orgId: string, q: JobLicenceQuery): Promise<LicenceIssue[]> {
  const issues: LicenceIssue[] = [];
  const ends: Array<{ role: ServerRole; server: ServerRow; edition: Edition | null; tier: number }> = [];
  for (const [role, id] of [['source', q.sourceServerId], ['target', q.targetServerId]] as const) {
    const [s] = await deps.db.select().from(servers).where(and(eq(servers.id, id), eq(servers.orgId, orgId)));
    if (!s) continue; // unknown servers are the job validator's to report
    const best = await serverLicence(deps, s);
    const tier = (await serverHost(s)).tier;
    if (!best) {
      issues.push({ severity: 'error', code: 'licence_missing', message: `The ${role} server ${s.name} has no licence. Add a code and apply or activate it (tandem license activate <code> --server ${s.name}).` });
      ends.push({ role, server: s, edition: null, tier });
      continue;
    }
    const st = best.status;
    if (st.health !== 'ok') {
      issues.push({ severity: st.health, code: st.code, message: `The ${role} server ${s.name}: licence ${serialLabel(best.licence.serial)}: ${st.message}` });
    }
    ends.push({ role, server: s, edition: best.licence.edition, tier });
  }
  for (const end of ends) {
    if (!end.edition) continue;
    const peer = ends.find((e) => e !== end)?.edition ?? null;
    for (const g of editionIssues({ edition: end.edition, hostTier: end.tier, role: end.role, jobType: q.jobType, peerEdition: peer })) {
      issues.push({ severity: 'error', code: g.code, message: `The ${end.role} server ${end.server.name}: ${g.message}` });
    }
  }
  const pools = await seatPools(deps, orgId, q.jobType);
  if (pools.length) {
    let free = 0;
    for (const p of pools) free += Math.max(0, (p.quantity ?? 0) - (await seatsUsed(deps.db, p.id)));
    if (free === 0) {
      issues.push({ severity: 'error', code: 'licence_no_seats', message: `Every job seat for ${q.jobType} jobs is taken (${pools.map((p) => serialLabel(p.serial)).join(', ')}). Delete a job (stopping does not free a seat) or add seats.` });
    }
  }
  return issues;
}

/** The org's usable seat pools that gate this job type. */
async function seatPools(deps: HubDeps, orgId: string, jobType?: string): Promise<LicenceRow[]> {
  const now = deps.clock.now();
  const rows = await deps.db.select().from(licences).where(and(eq(licences.orgId, orgId), eq(licences.type, 'job_seats')));
  return rows.filter((l) => l.addedAt != null && (l.expiresAt == null || l.expiresAt > now)
    && (jobType == null || l.seatJobTypes == null || l.seatJobTypes.includes(jobType)));
}

/**
 * Takes a seat for a job when the org's seat pools gate its type. Idempotent per job. Returns the licence serial used,
 * null when no pool gates this type, and throws 409 `licence_no_seats` when every seat is taken.
 */
export async function claimJobSeat(deps: HubDeps, orgId: string, jobId: string, jobType?: string): Promise<{ licence: string } | null> {
  const [held] = await deps.db.select().from(jobSeats).where(and(eq(jobSeats.jobId, jobId), eq(jobSeats.orgId, orgId)));
  if (held) {
    const [l] = await deps.db.select().from(licences).where(eq(licences.id, held.licenceId));
    return { licence: serialLabel(l!.serial) };
  }
  const pools = await seatPools(deps, orgId, jobType);
  if (!pools.length) return null;
  const now = deps.clock.now();
  for (const p of pools) {
    // One statement: the count check and the insert cannot interleave with another claim.
    const res = await deps.db.run(sql`INSERT INTO job_seats (job_id, org_id, licence_id, claimed_at)
      SELECT ${jobId}, ${orgId}, ${p.id}, ${now}
      WHERE (SELECT count(*) FROM job_seats WHERE licence_id = ${p.id}) < ${p.quantity ?? 0}
      ON CONFLICT (job_id) DO NOTHING`);
    if (res.rowsAffected > 0) return { licence: serialLabel(p.serial) };
  }
  throw new TandemError('licence_no_seats', `No free job seat${jobType ? ` for ${jobType} jobs` : ''}: all ${pools.reduce((n, p) => n + (p.quantity ?? 0), 0)} are in use. Delete a job (stopping one does not free its seat) or add seats.`, 409);
}

/** Frees a job's seat when the job is deleted (never when it is only stopped). Returns whether one was held. */
export async function releaseJobSeat(deps: HubDeps, orgId: string, jobId: string): Promise<boolean> {
  const res = await deps.db.delete(jobSeats).where(and(eq(jobSeats.jobId, jobId), eq(jobSeats.orgId, orgId))).returning();
  return res.length > 0;
}
