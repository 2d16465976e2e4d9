// The org's licence inventory: issuing codes (vendor), adding several at once, removing unused ones, export/import.
import { and, eq, inArray, ne } from 'drizzle-orm';
import { z } from 'zod';
import { TandemError } from '../../shared/errors';
import {
  Edition, LicenceType, LICENCE_TYPES, DAY_MS, makeLicenceCode, readLicenceCode, randomSerial, formatCode, serialLabel, normalizeCode,
} from '../../shared/licensing';
import { randomId } from '../../shared/tokens';
import { TANDEM_VERSION } from '../../shared/version';
import { licences, licenceAssignments, jobSeats, orgs } from '../db/schema';
import type { HubDeps } from '../deps';
import { findLicenceByCode, issuerSecret, type LicenceRow } from './store';

export const IssueRequest = z.strictObject({
  orgId: z.string().min(1).max(100),
  type: LicenceType,
  edition: Edition.default('standard'),
  /** ISO date or date-time; required for evaluation codes (default 30 days for those when absent). */
  expiresAt: z.string().datetime({ offset: true }).or(z.string().date()).optional(),
  quantity: z.number().int().min(1).max(100_000).optional(),
  /** Site codes only: does this code need activation? (single: always; evaluation, job seats: never). */
  requiresActivation: z.boolean().optional(),
  /** Job seats only: the job types that take a seat (default: every type). */
  jobTypes: z.array(z.string().min(1).max(50)).max(20).optional(),
  count: z.number().int().min(1).max(100).default(1),
});
export type IssueRequest = z.infer<typeof IssueRequest>;

/** Vendor side: mints `count` codes for an org; they appear in that org's inventory once the org adds them. */
export async function issueLicences(deps: HubDeps, req: IssueRequest, issuedBy: string): Promise<LicenceRow[]> {
  const { db, clock } = deps;
  const now = clock.now();
  const [org] = await db.select().from(orgs).where(eq(orgs.id, req.orgId));
  if (!org) throw new TandemError('org_unknown', `Organization "${req.orgId}" does not exist. Create it with POST /v1/orgs first.`, 404);
  const rule = LICENCE_TYPES[req.type];
  let expiresAt = req.expiresAt ? Date.parse(req.expiresAt) : null;
  if (expiresAt == null && rule.expiryRequired) expiresAt = now + 30 * DAY_MS;
  if (expiresAt != null && expiresAt <= now) throw new TandemError('licence_expiry_past', 'The expiry date is in the past.', 400);
  if (rule.seats && !req.quantity) throw new TandemError('licence_quantity_required', 'A job_seats licence needs --quantity (the number of seats).', 400);
  if (req.jobTypes && !rule.seats) throw new TandemError('licence_job_types_only_seats', 'jobTypes applies to job_seats licences only.', 400);
  if (req.requiresActivation !== undefined && rule.activation !== 'per_code') {
    throw new TandemError('licence_activation_fixed', `${req.type} licences ${rule.activation === 'required' ? 'always' : 'never'} need activation.`, 400);
  }
  const requiresActivation = rule.activation === 'required' || (rule.activation === 'per_code' && (req.requiresActivation ?? true));
  const secret = await issuerSecret(deps);
  const rows: LicenceRow[] = [];
  for (let i = 0; i < req.count; i++) {
    const serial = randomSerial();
    const code = await makeLicenceCode({ type: req.type, edition: req.edition, requiresActivation, expiresAt, serial }, secret);
    // The code stores whole days; keep the row's expiry equal to what the code says.
    rows.push({
      id: randomId('lic'), orgId: req.orgId, code, serial, type: req.type, edition: req.edition, requiresActivation,
      expiresAt: readLicenceCode(code).expiresAt, quantity: req.quantity ?? null, seatJobTypes: req.jobTypes ?? null,
      product: 'tandem', version: TANDEM_VERSION.split('.')[0]!, hostTransfersUsed: 0, issuedAt: now, issuedBy,
      addedAt: null, expiryWarningsSent: [],
    });
  }
  await db.insert(licences).values(rows);
  return rows;
}

/** Codes typed or pasted by a person: separated by commas, semicolons, spaces between codes or new lines. */
export function splitCodeList(input: string | string[]): string[] {
  const parts = (Array.isArray(input) ? input : [input]).flatMap((s) => s.split(/[,;\r\n]+/)).map((s) => s.trim()).filter(Boolean);
  // The same code twice (perhaps once with dashes) counts once.
  return [...new Map(parts.map((p) => [normalizeCode(p), p] as const)).values()];
}

/**
 * Adds codes to the org's inventory, all or nothing: a malformed, mistyped, forged, foreign or unknown code refuses the
 * whole request with that code's error (details list every bad code) and nothing changes.
 */
export async function addCodes(deps: HubDeps, orgId: string, input: string | string[]) {
  const list = splitCodeList(input);
  if (!list.length) throw new TandemError('licence_codes_empty', 'No licence codes given; separate several with commas or new lines.', 400);
  if (list.length > 500) throw new TandemError('licence_codes_too_many', 'At most 500 codes at once.', 400);
  const found: LicenceRow[] = [];
  const bad: Array<{ code: string; error: string; message: string }> = [];
  for (const c of list) {
    try {
      found.push(await findLicenceByCode(deps, orgId, c));
    } catch (err) {
      const e = err as TandemError;
      if (!(e instanceof TandemError)) throw err;
      bad.push({ code: c, error: e.code, message: e.message });
    }
  }
  const now = deps.clock.now();
  for (const l of found) {
    if (l.expiresAt != null && l.expiresAt <= now) {
      bad.push({ code: formatCode(l.code), error: 'licence_expired', message: `Licence ${formatCode(l.code)} expired on ${new Date(l.expiresAt).toISOString().slice(0, 10)}.` });
    }
  }
  if (bad.length) {
    const first = bad[0]!;
    const more = bad.length > 1 ? ` (${bad.length - 1} more bad code${bad.length > 2 ? 's' : ''} listed in details)` : '';
    throw new TandemError(first.error, `${first.message}${more} Nothing was added.`, first.error === 'licence_other_org' ? 403 : first.error === 'licence_unknown' ? 404 : first.error === 'licence_expired' ? 409 : 400, { invalid: bad });
  }
  const fresh = found.filter((l) => l.addedAt == null);
  if (fresh.length) {
    await deps.db.update(licences).set({ addedAt: now }).where(inArray(licences.id, fresh.map((l) => l.id)));
  }
  return {
    added: fresh.map((l) => formatCode(l.code)),
    alreadyInInventory: found.filter((l) => l.addedAt != null).map((l) => formatCode(l.code)),
    needsActivation: found.filter((l) => l.requiresActivation).map((l) => formatCode(l.code)),
  };
}

/** Removes a code from the inventory; only a code no server (and no job seat) uses. */
export async function removeCode(deps: HubDeps, orgId: string, input: string) {
  const l = await findLicenceByCode(deps, orgId, input);
  if (l.addedAt == null) throw new TandemError('licence_not_in_inventory', `Licence ${formatCode(l.code)} is not in the inventory.`, 404);
  const used = await deps.db.select({ id: licenceAssignments.id, serverId: licenceAssignments.serverId, hostname: licenceAssignments.hostname })
    .from(licenceAssignments).where(and(eq(licenceAssignments.licenceId, l.id), ne(licenceAssignments.state, 'deactivated')));
  const seats = await deps.db.select({ jobId: jobSeats.jobId }).from(jobSeats).where(eq(jobSeats.licenceId, l.id));
  if (used.length || seats.length) {
    throw new TandemError('licence_in_use', `Licence ${formatCode(l.code)} is used by ${used.length ? used.map((u) => u.hostname ?? u.serverId).join(', ') : `${seats.length} job(s)`}; only codes no server uses can be removed. Deactivate or reclaim it first.`, 409, { assignments: used.map((u) => u.id), jobs: seats.map((s) => s.jobId) });
  }
  await deps.db.update(licences).set({ addedAt: null }).where(eq(licences.id, l.id));
  return { removed: formatCode(l.code), serial: serialLabel(l.serial) };
}

export const InventoryFile = z.object({
  kind: z.literal('tandem-licence-inventory'),
  v: z.literal(1),
  org: z.string().optional(),
  exportedAt: z.string().optional(),
  licences: z.array(z.object({ code: z.string() }).passthrough()).max(5000),
});

export async function exportInventory(deps: HubDeps, orgId: string) {
  const rows = (await deps.db.select().from(licences).where(eq(licences.orgId, orgId))).filter((l) => l.addedAt != null);
  return {
    kind: 'tandem-licence-inventory' as const, v: 1 as const, org: orgId, exportedAt: new Date(deps.clock.now()).toISOString(),
    licences: rows.map((l) => ({
      code: formatCode(l.code), serial: serialLabel(l.serial), type: l.type, edition: l.edition,
      expiresAt: l.expiresAt == null ? null : new Date(l.expiresAt).toISOString(), quantity: l.quantity,
    })),
  };
}

export async function importInventory(deps: HubDeps, orgId: string, text: string) {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    // A plain list of codes is accepted as well.
    return addCodes(deps, orgId, text);
  }
  const parsed = InventoryFile.safeParse(raw);
  if (!parsed.success) throw new TandemError('inventory_file_invalid', 'This is not a Tandem licence inventory file (from `tandem license export`).', 400);
  return addCodes(deps, orgId, parsed.data.licences.map((l) => l.code));
}
