// Reading licences and assignments for one org, finding a code someone typed, and the inventory rows the API,
// CLI and portal show (one row per server for a multi-server code, with its warning or error).
import { and, eq, inArray, ne, count } from 'drizzle-orm';
import { TandemError } from '../../shared/errors';
import {
  formatCode, normalizeCode, readLicenceCode, verifyLicenceCode, hostFingerprint, hostTier, licenceStatus, serialLabel,
  readAgentLicenceReport, LICENCE_TYPES, MAX_HOST_TRANSFERS, type AssignmentFacts, type LicenceFacts, type LicenceStatus,
} from '../../shared/licensing';
import { licences, licenceAssignments, servers, jobSeats } from '../db/schema';
import type { Db } from '../db/types';
import type { HubDeps } from '../deps';
import { iso, isoOrNull } from '../routes/time';
import { hubSecret } from './secrets';

export type LicenceRow = typeof licences.$inferSelect;
export type AssignmentRow = typeof licenceAssignments.$inferSelect;
export type ServerRow = typeof servers.$inferSelect;

export const issuerSecret = (deps: HubDeps) => hubSecret(deps.db, 'licence-issuer', deps.clock.now());

export function licenceFacts(l: LicenceRow): LicenceFacts {
  return { serial: serialLabel(l.serial), type: l.type, requiresActivation: l.requiresActivation, expiresAt: l.expiresAt, hostTransfersUsed: l.hostTransfersUsed };
}

export function assignmentFacts(a: AssignmentRow, serverName?: string | null): AssignmentFacts {
  return {
    id: a.id, serverId: a.serverId, serverName: serverName ?? a.hostname, state: a.state, appliedAt: a.appliedAt,
    activationDeadline: a.activationDeadline, activatedAt: a.activatedAt, host: a.hostFingerprint,
  };
}

/**
 * Finds a code typed by an operator in their org. Typos and malformed codes fail before any lookup; a code this hub
 * never minted is `licence_code_forged`; a real code of another org is `licence_other_org`.
 */
export async function findLicenceByCode(deps: HubDeps, orgId: string, input: string): Promise<LicenceRow> {
  readLicenceCode(input);
  const code = normalizeCode(input);
  const [row] = await deps.db.select().from(licences).where(eq(licences.code, code));
  if (!row) {
    await verifyLicenceCode(code, await issuerSecret(deps));
    throw new TandemError('licence_unknown', `Licence code ${formatCode(code)} is genuine but not known to this hub's inventory (issued elsewhere or deleted). Ask your vendor.`, 404);
  }
  if (row.orgId !== orgId) {
    throw new TandemError('licence_other_org', `Licence code ${formatCode(code)} belongs to another organization; it cannot be used here.`, 403);
  }
  return row;
}

export async function assignmentsOf(db: Db, licenceId: string, liveOnly = true): Promise<AssignmentRow[]> {
  return db.select().from(licenceAssignments).where(liveOnly
    ? and(eq(licenceAssignments.licenceId, licenceId), ne(licenceAssignments.state, 'deactivated'))
    : eq(licenceAssignments.licenceId, licenceId));
}

export async function serverNames(db: Db, orgId: string): Promise<Map<string, ServerRow>> {
  const rows = await db.select().from(servers).where(eq(servers.orgId, orgId));
  return new Map(rows.map((r) => [r.id, r]));
}

/** The host identity a server has now: what the agent last reported, else what it enrolled with. */
export async function serverHost(s: ServerRow): Promise<{ host: string; hostname: string; tier: number }> {
  const rep = readAgentLicenceReport(s.state);
  if (rep) return { host: rep.hostFingerprint, hostname: rep.hostname, tier: hostTier(rep) };
  return { host: await hostFingerprint(s.machineId, s.hostname), hostname: s.hostname, tier: 1 };
}

export async function seatsUsed(db: Db, licenceId: string): Promise<number> {
  const [r] = await db.select({ n: count() }).from(jobSeats).where(eq(jobSeats.licenceId, licenceId));
  return r?.n ?? 0;
}

const PRODUCT = 'Tandem Availability for Linux';

function typeDescription(l: LicenceRow, used: number | null): string {
  const exp = l.expiresAt ? `, expires ${iso(l.expiresAt).slice(0, 10)}` : '';
  switch (l.type) {
    case 'evaluation': return `Evaluation${exp}`;
    case 'single': return `Single server${exp}`;
    case 'site': return `Site${l.quantity ? `, up to ${l.quantity} servers` : ''}${l.requiresActivation ? '' : ', no activation'}${exp}`;
    case 'job_seats': return `Job seats: ${used ?? 0} of ${l.quantity ?? 0} used${l.seatJobTypes ? ` (${l.seatJobTypes.join(', ')})` : ''}${exp}`;
  }
}

export interface InventoryRow {
  licenceId: string; serial: string; code: string; product: string; version: string; type: LicenceRow['type'];
  edition: LicenceRow['edition']; typeDescription: string; expiresAt: string | null; quantity: number | null;
  requiresActivation: boolean; hostTransfersUsed: number; hostTransfersLeft: number;
  assignmentId: string | null; state: 'available' | 'applied' | 'activated' | 'seats';
  server: { id: string; name: string; lastSeenAt: string | null } | null; hostname: string | null;
  activatedAt: string | null; activationDeadline: string | null; activationMethod: string | null;
  health: LicenceStatus['health']; status: string; message: string; daysLeft: number | null;
}

export async function rowStatus(l: LicenceRow, a: AssignmentRow | null, s: ServerRow | undefined, now: number): Promise<LicenceStatus> {
  const current = s && a?.state === 'activated' ? (await serverHost(s)).host : null;
  return licenceStatus(licenceFacts(l), a ? assignmentFacts(a, s?.name) : null, now, current);
}

/** The org's inventory (codes it added), one row per server using each code. */
export async function inventoryRows(deps: HubDeps, orgId: string): Promise<InventoryRow[]> {
  const { db, clock } = deps;
  const now = clock.now();
  const lics = (await db.select().from(licences).where(eq(licences.orgId, orgId))).filter((l) => l.addedAt != null);
  const ids = lics.map((l) => l.id);
  const asgs = ids.length
    ? await db.select().from(licenceAssignments).where(and(inArray(licenceAssignments.licenceId, ids), ne(licenceAssignments.state, 'deactivated')))
    : [];
  const srv = await serverNames(db, orgId);
  const out: InventoryRow[] = [];
  for (const l of lics.sort((x, y) => x.addedAt! - y.addedAt! || x.serial - y.serial)) {
    const used = LICENCE_TYPES[l.type].seats ? await seatsUsed(db, l.id) : null;
    const base = {
      licenceId: l.id, serial: serialLabel(l.serial), code: formatCode(l.code), product: PRODUCT, version: l.version,
      type: l.type, edition: l.edition, typeDescription: typeDescription(l, used), expiresAt: isoOrNull(l.expiresAt),
      quantity: l.quantity, requiresActivation: l.requiresActivation, hostTransfersUsed: l.hostTransfersUsed,
      hostTransfersLeft: Math.max(0, MAX_HOST_TRANSFERS - l.hostTransfersUsed),
    };
    const mine = asgs.filter((a) => a.licenceId === l.id);
    if (!mine.length) {
      const st = await rowStatus(l, null, undefined, now);
      out.push({
        ...base, assignmentId: null, state: used == null ? 'available' : 'seats', server: null, hostname: null, activatedAt: null,
        activationDeadline: null, activationMethod: null, health: st.health, status: st.code, message: st.message, daysLeft: st.daysLeft,
      });
    }
    for (const a of mine) {
      const s = a.serverId ? srv.get(a.serverId) : undefined;
      const st = await rowStatus(l, a, s, now);
      out.push({
        ...base, assignmentId: a.id, state: a.state === 'activated' ? 'activated' : 'applied',
        server: s ? { id: s.id, name: s.name, lastSeenAt: isoOrNull(s.lastSeenAt) } : null, hostname: a.hostname,
        activatedAt: isoOrNull(a.activatedAt), activationDeadline: isoOrNull(a.activationDeadline), activationMethod: a.activationMethod,
        health: st.health, status: st.code, message: st.message, daysLeft: st.daysLeft,
      });
    }
  }
  return out;
}
