// Licences: issue (vendor), the org's inventory (add, list, remove, export/import), apply, activate (online, by
// request code → key, by request file → licence file), deactivate, reclaim; and the agent's own licence channel.
import { Hono } from 'hono';
import { eq } from 'drizzle-orm';
import {
  LicenceAdd, LicenceImport, LicenceServerRef, LicenceActivate, LicenceDeactivate, ActivationKeyRequest,
  ActivationFileRequest, AgentLicenceActivate, AgentLicenceClaim,
} from '../../shared/licensing/api';
import { formatCode, serialLabel } from '../../shared/licensing';
import { servers } from '../db/schema';
import { apiAuth, requireAdmin, requireAgent, requireRead } from '../middleware/auth';
import { parseBody } from '../middleware/validate';
import type { AuthAgent, HubEnv } from '../deps';
import { documentRoutes } from '../openapi';
import { IssueRequest, issueLicences, addCodes, removeCode, exportInventory, importInventory } from '../licensing/inventory';
import { inventoryRows } from '../licensing/store';
import {
  applyLicence, activateOnline, activateAllPending, activateByRequestCode, activateByRequestFile, claimActivationKey, deactivateCode, reclaimLicence,
  type ActivationResult,
} from '../licensing/activation';
import { filesForServer } from '../licensing/files';
import { iso, isoOrNull } from './time';
import { requireVendor } from './orgs';

const activationView = (r: ActivationResult) => ({
  serial: serialLabel(r.licence.serial), code: formatCode(r.licence.code), assignmentId: r.assignment.id,
  serverId: r.assignment.serverId, hostname: r.assignment.hostname, host: r.assignment.hostFingerprint,
  method: r.assignment.activationMethod, activatedAt: isoOrNull(r.assignment.activatedAt), transferred: r.transferred,
  alreadyActive: r.already, hostTransfersUsed: r.licence.hostTransfersUsed, licenceFile: r.licenceFile, fileExpiresAt: iso(r.fileExpiresAt),
});

async function agentServer(c: { get(k: 'deps'): HubEnv['Variables']['deps']; get(k: 'auth'): unknown }) {
  const auth = c.get('auth') as AuthAgent;
  const [s] = await c.get('deps').db.select().from(servers).where(eq(servers.id, auth.serverId));
  return s!;
}

export const licenceRoutes = new Hono<HubEnv>()
  .post('/v1/licences/issue', requireVendor, async (c) => {
    const deps = c.get('deps');
    const body = await parseBody(c, IssueRequest);
    const rows = await issueLicences(deps, body, apiAuth(c).tokenId);
    return c.json({
      items: rows.map((l) => ({ code: formatCode(l.code), serial: serialLabel(l.serial), orgId: l.orgId, type: l.type, edition: l.edition, expiresAt: isoOrNull(l.expiresAt), quantity: l.quantity, requiresActivation: l.requiresActivation })),
    }, 201);
  })
  .get('/v1/licences', requireRead, async (c) => c.json({ items: await inventoryRows(c.get('deps'), apiAuth(c).orgId) }))
  .post('/v1/licences', requireAdmin, async (c) => {
    const body = await parseBody(c, LicenceAdd);
    return c.json(await addCodes(c.get('deps'), apiAuth(c).orgId, body.codes), 201);
  })
  .get('/v1/licences/export', requireRead, async (c) => {
    const file = await exportInventory(c.get('deps'), apiAuth(c).orgId);
    c.header('content-disposition', 'attachment; filename="tandem-licences.json"');
    return c.json(file);
  })
  .post('/v1/licences/import', requireAdmin, async (c) => {
    const body = await parseBody(c, LicenceImport);
    return c.json(await importInventory(c.get('deps'), apiAuth(c).orgId, body.file));
  })
  .post('/v1/licences/activation-key', requireAdmin, async (c) => {
    const body = await parseBody(c, ActivationKeyRequest);
    const r = await activateByRequestCode(c.get('deps'), apiAuth(c).orgId, body.code, body.requestCode, { transfer: body.transfer });
    return c.json({ ...activationView(r), activationKey: formatCode(r.activationKey) });
  })
  .post('/v1/licences/activation-file', requireAdmin, async (c) => {
    const body = await parseBody(c, ActivationFileRequest);
    const r = await activateByRequestFile(c.get('deps'), apiAuth(c).orgId, body.request, { code: body.code, transfer: body.transfer });
    return c.json(activationView(r));
  })
  .post('/v1/licences/activate', requireAdmin, async (c) => c.json({ items: await activateAllPending(c.get('deps'), apiAuth(c).orgId) }))
  .delete('/v1/licences/:code', requireAdmin, async (c) => c.json(await removeCode(c.get('deps'), apiAuth(c).orgId, c.req.param('code'))))
  .post('/v1/licences/:code/apply', requireAdmin, async (c) => {
    const body = await parseBody(c, LicenceServerRef);
    const a = await applyLicence(c.get('deps'), apiAuth(c).orgId, c.req.param('code'), body.server);
    return c.json({ assignmentId: a.id, serverId: a.serverId, state: a.state, activationDeadline: isoOrNull(a.activationDeadline) });
  })
  .post('/v1/licences/:code/activate', requireAdmin, async (c) => {
    const body = await parseBody(c, LicenceActivate);
    return c.json(activationView(await activateOnline(c.get('deps'), apiAuth(c).orgId, c.req.param('code'), body.server, { transfer: body.transfer })));
  })
  .post('/v1/licences/:code/deactivate', requireAdmin, async (c) => {
    const body = await parseBody(c, LicenceDeactivate);
    return c.json({ items: await deactivateCode(c.get('deps'), apiAuth(c).orgId, c.req.param('code'), body.server) });
  })
  .post('/v1/licences/:code/reclaim', requireAdmin, async (c) => c.json(await reclaimLicence(c.get('deps'), apiAuth(c).orgId, c.req.param('code'))))
  // --- The agent's channel: online activation by the agent itself, key claims, refreshing its licence files. ---
  .post('/v1/agent/licence/activate', requireAgent, async (c) => {
    const body = await parseBody(c, AgentLicenceActivate);
    const s = await agentServer(c);
    return c.json(activationView(await activateOnline(c.get('deps'), s.orgId, body.code, s, { transfer: body.transfer })));
  })
  .post('/v1/agent/licence/claim', requireAgent, async (c) => {
    const body = await parseBody(c, AgentLicenceClaim);
    const r = await claimActivationKey(c.get('deps'), await agentServer(c), body.key, body.requestCode);
    return c.json({ serial: serialLabel(r.licence.serial), licenceFile: r.file, fileExpiresAt: iso(r.expiresAt) });
  })
  .post('/v1/agent/licence/refresh', requireAgent, async (c) => {
    const deps = c.get('deps');
    const files = await filesForServer(deps, await agentServer(c));
    return c.json({ files: files.map((f) => ({ serial: f.serial, licenceFile: f.file, fileExpiresAt: iso(f.expiresAt) })), jwks: deps.keys.publicJwks() });
  });

documentRoutes([
  { method: 'post', path: '/v1/licences/issue', summary: 'Issue licence codes for an organization (vendor)', auth: 'issuer', body: IssueRequest },
  { method: 'get', path: '/v1/licences', summary: 'Licence inventory: one row per server per code, with warnings and errors', auth: 'read' },
  { method: 'post', path: '/v1/licences', summary: 'Add codes to the inventory (comma- or newline-separated; all or nothing)', auth: 'admin', body: LicenceAdd },
  { method: 'get', path: '/v1/licences/export', summary: 'Export the inventory as a file', auth: 'read' },
  { method: 'post', path: '/v1/licences/import', summary: 'Import an inventory file', auth: 'admin', body: LicenceImport },
  { method: 'post', path: '/v1/licences/activate', summary: 'Activate every applied licence of enrolled servers online (retryable)', auth: 'admin' },
  { method: 'delete', path: '/v1/licences/{code}', summary: 'Remove a code no server uses', auth: 'admin' },
  { method: 'post', path: '/v1/licences/{code}/apply', summary: 'Apply a code to a server (starts the 14-day activation window)', auth: 'admin', body: LicenceServerRef },
  { method: 'post', path: '/v1/licences/{code}/activate', summary: 'Activate a code online for an enrolled server (transfer: true for a host transfer)', auth: 'admin', body: LicenceActivate },
  { method: 'post', path: '/v1/licences/{code}/deactivate', summary: 'Deactivate a code (unlimited)', auth: 'admin', body: LicenceDeactivate },
  { method: 'post', path: '/v1/licences/{code}/reclaim', summary: 'Return an applied, unactivated single licence to the pool', auth: 'admin' },
  { method: 'post', path: '/v1/licences/activation-key', summary: 'Activate by the host\'s request code; returns the 24-character activation key', auth: 'admin', body: ActivationKeyRequest },
  { method: 'post', path: '/v1/licences/activation-file', summary: 'Activate by an uploaded request file; returns a signed licence file', auth: 'admin', body: ActivationFileRequest },
  { method: 'post', path: '/v1/agent/licence/activate', summary: 'Agent: activate a code for this host online', auth: 'agent', body: AgentLicenceActivate },
  { method: 'post', path: '/v1/agent/licence/claim', summary: 'Agent: exchange an activation key for the licence file', auth: 'agent', body: AgentLicenceClaim },
  { method: 'post', path: '/v1/agent/licence/refresh', summary: 'Agent: current signed licence files and the hub public keys', auth: 'agent' },
]);
