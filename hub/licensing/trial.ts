// The out-of-the-box trial: a self-hosted hub gives its default organization an evaluation licence on first start
// and applies it to each server that enrols without one, so a newcomer can protect data at once. Set
// TANDEM_TRIAL_DAYS=0 to disable it (then every server needs a code from the inventory).
import { and, eq } from 'drizzle-orm';
import { licences } from '../db/schema';
import type { HubDeps } from '../deps';
import { issueLicences } from './inventory';
import { applyLicence } from './activation';
import { serverLicence } from './enforce';
import type { ServerRow } from './store';

const TRIAL_ISSUER = 'hub-trial';

export async function ensureTrialLicence(deps: HubDeps, orgId: string, days: number): Promise<void> {
  if (days <= 0) return;
  const existing = await deps.db.select({ id: licences.id }).from(licences).where(eq(licences.orgId, orgId)).limit(1);
  if (existing.length) return;
  const expiresAt = new Date(deps.clock.now() + days * 86_400_000).toISOString();
  const [row] = await issueLicences(deps, { orgId, type: 'evaluation', edition: 'enterprise', expiresAt, count: 1 }, TRIAL_ISSUER);
  if (row) await deps.db.update(licences).set({ addedAt: deps.clock.now() }).where(eq(licences.id, row.id));
  deps.log.info({ orgId, days }, 'evaluation licence created for the default organization');
}

/** Applies the org's trial licence to a newly enrolled server that has no licence. Never throws. */
export async function applyTrialLicence(deps: HubDeps, server: ServerRow): Promise<void> {
  try {
    if (await serverLicence(deps, server)) return;
    const [trial] = await deps.db.select().from(licences).where(and(eq(licences.orgId, server.orgId), eq(licences.issuedBy, TRIAL_ISSUER)));
    if (!trial || (trial.expiresAt != null && trial.expiresAt <= deps.clock.now())) return;
    await applyLicence(deps, server.orgId, trial.code, server.id);
  } catch (err) {
    deps.log.warn({ serverId: server.id, err: String(err) }, 'could not apply the trial licence');
  }
}
