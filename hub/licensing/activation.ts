// Applying, activating (online, by request code → key, by request file → licence file), transferring, deactivating
// and reclaiming licences. The decisions come from shared/licensing/lifecycle; this module reads and writes rows.
import { and, eq, ne } from 'drizzle-orm';
import { TandemError } from '../../shared/errors';
import {
  planActivation, planApply, transition, readRequestCode, makeActivationKey, verifyActivationKey, formatCode, serialLabel,
  parseActivationRequestFile, ACTIVATION_REQUEST_TTL_DAYS, DAY_MS, type ActivationMethod, type RequestCodeFields,
} from '../../shared/licensing';
import { randomId } from '../../shared/tokens';
import { licences, licenceAssignments, activationRequests, servers } from '../db/schema';
import type { HubDeps } from '../deps';
import { queueCommand } from '../commands/queue';
import { findServer } from '../servers/lookup';
import {
  assignmentFacts, assignmentsOf, findLicenceByCode, issuerSecret, licenceFacts, serverHost,
  type AssignmentRow, type LicenceRow, type ServerRow,
} from './store';
import { signFileFor } from './files';

async function namesFor(deps: HubDeps, rows: AssignmentRow[]) {
  const ids = rows.map((r) => r.serverId).filter((x): x is string => !!x);
  const names = new Map<string, string>();
  for (const id of ids) {
    const [s] = await deps.db.select({ name: servers.name }).from(servers).where(eq(servers.id, id));
    if (s) names.set(id, s.name);
  }
  return rows.map((r) => assignmentFacts(r, r.serverId ? names.get(r.serverId) : null));
}

/** Adds an org's own code to its inventory on first use (activation implies the operator has the code). */
async function ensureInInventory(deps: HubDeps, l: LicenceRow) {
  if (l.addedAt == null) await deps.db.update(licences).set({ addedAt: deps.clock.now() }).where(eq(licences.id, l.id));
}

export async function applyLicence(deps: HubDeps, orgId: string, code: string, server: string) {
  const l = await findLicenceByCode(deps, orgId, code);
  const s = await findServer(deps.db, orgId, server);
  const now = deps.clock.now();
  const plan = planApply(licenceFacts(l), await namesFor(deps, await assignmentsOf(deps.db, l.id)), s.id, now);
  await ensureInInventory(deps, l);
  if (plan.kind === 'existing') {
    const [a] = await deps.db.select().from(licenceAssignments).where(eq(licenceAssignments.id, plan.assignmentId));
    return a!;
  }
  const row: AssignmentRow = {
    id: randomId('las'), orgId, licenceId: l.id, serverId: s.id, state: transition(null, 'apply'), appliedAt: now,
    activationDeadline: plan.activationDeadline, activatedAt: null, activationMethod: null, hostFingerprint: null,
    hostname: s.hostname, deactivatedAt: null, deactivationReason: null, fileExpiresAt: null, eventsRaised: [],
  };
  await deps.db.insert(licenceAssignments).values(row);
  if (!l.requiresActivation) await pushFile(deps, l, row);
  return row;
}

interface ActivationTarget {
  host: string;
  hostname: string;
  serverId: string | null;
  serverName?: string | null;
}

export interface ActivationResult {
  licence: LicenceRow;
  assignment: AssignmentRow;
  transferred: boolean;
  already: boolean;
  licenceFile: string;
  fileExpiresAt: number;
}

/**
 * The one activation routine behind every path. `request` (host + nonce) is recorded in the same transaction so a
 * request code or file answers once (`activation_request_replayed` afterwards).
 */
async function activate(
  deps: HubDeps, l: LicenceRow, target: ActivationTarget, method: ActivationMethod,
  opts: { transfer?: boolean; request?: RequestCodeFields },
): Promise<ActivationResult> {
  const { db, clock } = deps;
  const now = clock.now();
  const existing = await assignmentsOf(db, l.id);
  const plan = planActivation(licenceFacts(l), await namesFor(deps, existing), { serverId: target.serverId, host: target.host }, now, opts);
  if (opts.request) {
    const [used] = await db.select().from(activationRequests)
      .where(and(eq(activationRequests.host, opts.request.host), eq(activationRequests.nonce, opts.request.nonce)));
    if (used) {
      throw new TandemError('activation_request_replayed', 'This activation request was already used. Run `tandem license request` on the host again for a fresh one.', 409);
    }
  }
  const bound = { state: 'activated' as const, activatedAt: now, activationMethod: method, hostFingerprint: target.host, hostname: target.hostname };
  const stmts = [];
  let assignmentId: string;
  let fromId: string | null = null;
  if (plan.kind === 'already') {
    assignmentId = plan.assignmentId;
    if (target.serverId) stmts.push(db.update(licenceAssignments).set({ serverId: target.serverId }).where(eq(licenceAssignments.id, assignmentId)));
  } else {
    if (plan.kind === 'transfer') {
      fromId = plan.fromAssignmentId;
      transition('activated', 'transfer_out');
      stmts.push(db.update(licenceAssignments).set({ state: 'deactivated', deactivatedAt: now, deactivationReason: 'host_transfer' })
        .where(eq(licenceAssignments.id, plan.fromAssignmentId)));
      // Guarded by the old count: two transfers racing cannot both pass the limit.
      stmts.push(db.update(licences).set({ hostTransfersUsed: plan.transfersUsed })
        .where(and(eq(licences.id, l.id), eq(licences.hostTransfersUsed, plan.transfersUsed - 1))));
    }
    if (plan.assignmentId) {
      assignmentId = plan.assignmentId;
      stmts.push(db.update(licenceAssignments).set({ ...bound, serverId: target.serverId }).where(eq(licenceAssignments.id, assignmentId)));
    } else {
      assignmentId = randomId('las');
      stmts.push(db.insert(licenceAssignments).values({
        id: assignmentId, orgId: l.orgId, licenceId: l.id, serverId: target.serverId, appliedAt: now, activationDeadline: null,
        deactivatedAt: null, deactivationReason: null, fileExpiresAt: null, eventsRaised: [], ...bound,
      }));
    }
  }
  if (opts.request) {
    stmts.push(db.insert(activationRequests).values({
      host: opts.request.host, nonce: opts.request.nonce, orgId: l.orgId, licenceId: l.id, assignmentId, usedAt: now,
    }));
  }
  if (l.addedAt == null) stmts.push(db.update(licences).set({ addedAt: now }).where(eq(licences.id, l.id)));
  if (stmts.length) await db.batch(stmts as [typeof stmts[number], ...typeof stmts]);

  const [lic] = await db.select().from(licences).where(eq(licences.id, l.id));
  if (plan.kind === 'transfer' && lic!.hostTransfersUsed !== plan.transfersUsed) {
    throw new TandemError('licence_conflict', 'Another transfer of this licence happened at the same time; try again.', 409);
  }
  const [asg] = await db.select().from(licenceAssignments).where(eq(licenceAssignments.id, assignmentId));
  const { file, expiresAt } = await signFileFor(deps, lic!, asg!);
  if (fromId) {
    const [from] = await db.select().from(licenceAssignments).where(eq(licenceAssignments.id, fromId));
    if (from?.serverId) await queueCommand(deps, l.orgId, from.serverId, 'licence.remove', { serial: serialLabel(l.serial), reason: 'host_transfer' });
  }
  if (asg!.serverId) await queueCommand(deps, l.orgId, asg!.serverId, 'licence.install', { file });
  if (plan.kind !== 'already') {
    deps.events.raise({
      event: 'licence.activated', orgId: l.orgId, serverId: asg!.serverId,
      fields: { licenceId: serialLabel(l.serial), hostname: target.hostname, method, transfer: plan.kind === 'transfer' ? ', host transfer' : '', serverName: target.serverName ?? null },
    });
  }
  return { licence: lic!, assignment: asg!, transferred: plan.kind === 'transfer', already: plan.kind === 'already', licenceFile: file, fileExpiresAt: expiresAt };
}

/** Online activation of an enrolled server, by the hub on its behalf (or by the agent itself). */
export async function activateOnline(deps: HubDeps, orgId: string, code: string, server: ServerRow | string, opts: { transfer?: boolean } = {}) {
  const l = await findLicenceByCode(deps, orgId, code);
  const s = typeof server === 'string' ? await findServer(deps.db, orgId, server) : server;
  const h = await serverHost(s);
  return activate(deps, l, { host: h.host, hostname: h.hostname, serverId: s.id, serverName: s.name }, 'online', opts);
}

/** Matches the request's host to an enrolled server of the org, if there is one. */
async function serverForHost(deps: HubDeps, orgId: string, host: string): Promise<ServerRow | null> {
  const rows = await deps.db.select().from(servers).where(eq(servers.orgId, orgId));
  for (const s of rows) if ((await serverHost(s)).host === host) return s;
  return null;
}

/** Portal path: licence code + the host's request code → a 24-character activation key (the licence is now bound). */
export async function activateByRequestCode(deps: HubDeps, orgId: string, code: string, requestCode: string, opts: { transfer?: boolean } = {}) {
  const l = await findLicenceByCode(deps, orgId, code);
  const req = readRequestCode(requestCode);
  const s = await serverForHost(deps, orgId, req.host);
  const res = await activate(deps, l, { host: req.host, hostname: s?.hostname ?? `host ${req.host.slice(0, 8)}`, serverId: s?.id ?? null, serverName: s?.name }, 'key', { ...opts, request: req });
  const activationKey = await makeActivationKey(l.serial, req, await issuerSecret(deps));
  deps.events.raise({
    event: 'licence.activation_key_issued', orgId, serverId: s?.id ?? null,
    fields: { licenceId: serialLabel(l.serial), hostname: res.assignment.hostname, activationKey: formatCode(activationKey) },
  });
  return { ...res, activationKey, server: s };
}

/** Offline path: an uploaded activation request file → a signed licence file for that host. */
export async function activateByRequestFile(deps: HubDeps, orgId: string, text: string, opts: { code?: string; transfer?: boolean } = {}) {
  const file = parseActivationRequestFile(text);
  const created = Date.parse(file.createdAt);
  const now = deps.clock.now();
  if (!Number.isFinite(created) || created > now + DAY_MS || now - created > ACTIVATION_REQUEST_TTL_DAYS * DAY_MS) {
    throw new TandemError('activation_request_expired', `This activation request file is older than ${ACTIVATION_REQUEST_TTL_DAYS} days (or dated in the future). Write a new one with \`tandem license request --file\`.`, 400);
  }
  const req = readRequestCode(file.requestCode);
  const code = opts.code?.trim() || file.codes[0];
  if (!code) throw new TandemError('licence_code_required', 'Name the licence code to activate (the request file does not list one).', 400);
  const l = await findLicenceByCode(deps, orgId, code);
  const s = await serverForHost(deps, orgId, req.host);
  const res = await activate(deps, l, { host: req.host, hostname: file.hostname, serverId: s?.id ?? file.serverId ?? null, serverName: s?.name }, 'file', { transfer: opts.transfer, request: req });
  return { ...res, server: s };
}

/**
 * The host presents an activation key it was given (with its own request code): the hub checks the key is its own and
 * answers that request, attaches the activation to the calling server and returns the licence file.
 */
export async function claimActivationKey(deps: HubDeps, s: ServerRow, key: string, requestCode: string) {
  const req = readRequestCode(requestCode);
  await verifyActivationKey(key, req, await issuerSecret(deps));
  const [used] = await deps.db.select().from(activationRequests).where(and(eq(activationRequests.host, req.host), eq(activationRequests.nonce, req.nonce)));
  if (!used || used.orgId !== s.orgId) throw new TandemError('activation_key_unknown', 'This hub has no activation for that key in your organization.', 404);
  const [a] = await deps.db.select().from(licenceAssignments).where(eq(licenceAssignments.id, used.assignmentId));
  const [l] = await deps.db.select().from(licences).where(eq(licences.id, used.licenceId));
  if (!a || !l || a.state !== 'activated') throw new TandemError('activation_key_revoked', 'The activation for this key was deactivated or transferred since. Activate again.', 409);
  const h = await serverHost(s);
  if (a.hostFingerprint !== h.host) throw new TandemError('activation_key_wrong_host', 'This activation key belongs to another host.', 409);
  if (a.serverId !== s.id) await deps.db.update(licenceAssignments).set({ serverId: s.id }).where(eq(licenceAssignments.id, a.id));
  const [fresh] = await deps.db.select().from(licenceAssignments).where(eq(licenceAssignments.id, a.id));
  return { licence: l, assignment: fresh!, ...(await signFileFor(deps, l, fresh!)) };
}

async function pushFile(deps: HubDeps, l: LicenceRow, a: AssignmentRow) {
  if (!a.serverId) return;
  const { file } = await signFileFor(deps, l, a);
  await queueCommand(deps, l.orgId, a.serverId, 'licence.install', { file });
}

/** Managed deactivation (unlimited): the code returns to the pool and the host is told to drop its licence file. */
export async function deactivateAssignment(deps: HubDeps, orgId: string, a: AssignmentRow, reason: string) {
  if (a.orgId !== orgId) throw new TandemError('not_found', 'No such licence assignment.', 404);
  transition(a.state, 'deactivate');
  await deps.db.update(licenceAssignments).set({ state: 'deactivated', deactivatedAt: deps.clock.now(), deactivationReason: reason })
    .where(and(eq(licenceAssignments.id, a.id), ne(licenceAssignments.state, 'deactivated')));
  const [l] = await deps.db.select().from(licences).where(eq(licences.id, a.licenceId));
  if (a.serverId) await queueCommand(deps, orgId, a.serverId, 'licence.remove', { serial: serialLabel(l!.serial), reason });
  return { deactivated: a.id, serial: serialLabel(l!.serial), code: formatCode(l!.code) };
}

/** Deactivate a code on one server (by id or name), or everywhere it is live when no server is named. */
export async function deactivateCode(deps: HubDeps, orgId: string, code: string, server?: string) {
  const l = await findLicenceByCode(deps, orgId, code);
  let rows = await assignmentsOf(deps.db, l.id);
  if (server) {
    const s = await findServer(deps.db, orgId, server);
    rows = rows.filter((r) => r.serverId === s.id);
  }
  if (!rows.length) throw new TandemError('licence_not_active', `Licence ${formatCode(l.code)} is not applied${server ? ` to ${server}` : ''}; nothing to deactivate.`, 409);
  const out = [];
  for (const r of rows) out.push(await deactivateAssignment(deps, orgId, r, 'managed'));
  return out;
}

/** Managed uninstall of a server: every licence it holds is deactivated (called before the server row is deleted). */
export async function deactivateServerLicences(deps: HubDeps, orgId: string, serverId: string) {
  const rows = await deps.db.select().from(licenceAssignments)
    .where(and(eq(licenceAssignments.orgId, orgId), eq(licenceAssignments.serverId, serverId), ne(licenceAssignments.state, 'deactivated')));
  const out = [];
  for (const r of rows) out.push(await deactivateAssignment(deps, orgId, r, 'server_removed'));
  return out;
}

/** Returns a single licence applied (never activated) to a server back to the pool. */
export async function reclaimLicence(deps: HubDeps, orgId: string, code: string) {
  const l = await findLicenceByCode(deps, orgId, code);
  if (l.type !== 'single') throw new TandemError('licence_reclaim_single_only', 'Only single-server licences are reclaimed; others can be applied to more servers.', 400);
  const [a] = await assignmentsOf(deps.db, l.id);
  if (!a) throw new TandemError('licence_not_active', `Licence ${formatCode(l.code)} is already in the pool.`, 409);
  transition(a.state, 'reclaim');
  await deps.db.update(licenceAssignments).set({ state: 'deactivated', deactivatedAt: deps.clock.now(), deactivationReason: 'reclaimed' })
    .where(eq(licenceAssignments.id, a.id));
  return { reclaimed: formatCode(l.code) };
}

/**
 * Bulk online activation (the manual's "activate all"): every applied licence that needs activation and whose server
 * is enrolled is activated now. Idempotent and retryable; each row reports its own result.
 */
export async function activateAllPending(deps: HubDeps, orgId: string) {
  const rows = await deps.db.select({ a: licenceAssignments, l: licences }).from(licenceAssignments)
    .innerJoin(licences, eq(licences.id, licenceAssignments.licenceId))
    .where(and(eq(licenceAssignments.orgId, orgId), eq(licenceAssignments.state, 'applied')));
  const results = [];
  for (const { a, l } of rows) {
    if (!l.requiresActivation || !a.serverId) continue;
    const [s] = await deps.db.select().from(servers).where(and(eq(servers.id, a.serverId), eq(servers.orgId, orgId)));
    if (!s) continue;
    try {
      await activateOnline(deps, orgId, l.code, s);
      results.push({ serial: serialLabel(l.serial), server: s.name, ok: true as const });
    } catch (err) {
      const e = err as TandemError;
      results.push({ serial: serialLabel(l.serial), server: s.name, ok: false as const, error: { code: e.code ?? 'internal', message: e.message } });
    }
  }
  return results;
}
