// Signing a licence file for one activation, and the set of files a server should hold right now.
import { and, eq, ne } from 'drizzle-orm';
import { DAY_MS, LICENCE_FILE_TTL_DAYS, serialLabel, signLicenceFile, LICENCE_TYPES } from '../../shared/licensing';
import { licences, licenceAssignments } from '../db/schema';
import type { HubDeps } from '../deps';
import { rowStatus, type AssignmentRow, type LicenceRow, type ServerRow } from './store';

export async function signFileFor(deps: HubDeps, l: LicenceRow, a: AssignmentRow): Promise<{ file: string; expiresAt: number }> {
  const now = deps.clock.now();
  const expiresAt = Math.min(now + LICENCE_FILE_TTL_DAYS * DAY_MS, l.expiresAt ?? Infinity);
  const file = await signLicenceFile(deps.keys.current(), {
    sub: serialLabel(l.serial), org: l.orgId, code: l.code, type: l.type, edition: l.edition,
    host: a.state === 'activated' ? a.hostFingerprint : null, hostname: a.hostname, serverId: a.serverId, assignment: a.id,
    licenceExpiresAt: l.expiresAt, quantity: l.quantity, transfersUsed: l.hostTransfersUsed,
  }, expiresAt);
  await deps.db.update(licenceAssignments).set({ fileExpiresAt: expiresAt }).where(eq(licenceAssignments.id, a.id));
  return { file, expiresAt };
}

/**
 * Fresh signed files for every licence a server may use now: activated ones bound to its current identity, and
 * codes that need no activation. Unactivated, expired or mismatched licences get no file (the agent reports why).
 */
export async function filesForServer(deps: HubDeps, s: ServerRow): Promise<Array<{ serial: string; file: string; expiresAt: number }>> {
  const rows = await deps.db.select({ a: licenceAssignments, l: licences }).from(licenceAssignments)
    .innerJoin(licences, eq(licences.id, licenceAssignments.licenceId))
    .where(and(eq(licenceAssignments.serverId, s.id), ne(licenceAssignments.state, 'deactivated')));
  const out = [];
  for (const { a, l } of rows) {
    if (LICENCE_TYPES[l.type].seats) continue;
    if (a.state !== 'activated' && l.requiresActivation) continue;
    const st = await rowStatus(l, a, s, deps.clock.now());
    if (st.health === 'error') continue;
    out.push({ serial: serialLabel(l.serial), ...(await signFileFor(deps, l, a)) });
  }
  return out;
}
