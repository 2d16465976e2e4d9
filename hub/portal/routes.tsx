// The activation portal at /portal: sign-in for an org's portal users, then licences, activation (request code →
// key, request file → licence file download), deactivation/transfer and hosts. Plain forms; works without JavaScript.
import { Hono, type Context } from 'hono';
import { html } from 'hono/html';
import type { JSX } from 'hono/jsx/jsx-runtime';
import { and, eq, ne } from 'drizzle-orm';
import { TandemError } from '../../shared/errors';
import { serialLabel } from '../../shared/licensing';
import { licenceAssignments, licences, orgs, portalUsers, servers } from '../db/schema';
import type { HubEnv } from '../deps';
import { inventoryRows, rowStatus } from '../licensing/store';
import { addCodes, removeCode, exportInventory } from '../licensing/inventory';
import { activateByRequestCode, activateByRequestFile, deactivateAssignment } from '../licensing/activation';
import { serverStatus } from '../servers/status';
import { isoOrNull } from '../routes/time';
import { pbkdf2Hasher } from './password';
import { ActivatePage, HostsPage, KeyIssuedPage, LicencesPage, LoginPage, type HostRow, type PageCtx } from './pages';
import {
  currentSession, startSession, endSession, loginCsrf, checkLoginCsrf, loginLockedFor, recordLoginFailure, clearLoginFailures,
  type PortalSession,
} from './session';

type C = Context<HubEnv>;
// The signed-in session of each request, set by the guard below (kept off the shared HubEnv variables).
const sessions = new WeakMap<Request, PortalSession>();
const sessionOf = (c: C) => sessions.get(c.req.raw)!;

function page(c: C, body: JSX.Element, status: 200 | 400 | 401 | 403 | 404 | 409 | 429 = 200) {
  c.header('cache-control', 'no-store');
  c.header('x-frame-options', 'DENY');
  c.header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
  return c.html(html`<!doctype html>${body}`, status);
}

async function ctxOf(c: C, s: PortalSession): Promise<PageCtx> {
  const [org] = await c.get('deps').db.select().from(orgs).where(eq(orgs.id, s.orgId));
  return { user: s.user, csrf: s.csrf, orgName: org?.name ?? s.orgId };
}

const asError = (err: unknown) => {
  if (err instanceof TandemError) return { error: err.message, errorCode: err.code, status: (err.status >= 500 ? 400 : err.status) as 400 };
  throw err;
};

async function inventoryCodes(c: C, orgId: string) {
  const rows = await inventoryRows(c.get('deps'), orgId);
  const seen = new Map<string, string>();
  for (const r of rows) if (r.type !== 'job_seats' && !seen.has(r.code)) seen.set(r.code, `${r.serial} · ${r.typeDescription}`);
  return [...seen].map(([code, label]) => ({ code, label }));
}

export const portalRoutes = new Hono<HubEnv>()
  .get('/portal/login', async (c) => page(c, <LoginPage csrf={await loginCsrf(c)} />))
  .post('/portal/login', async (c) => {
    const deps = c.get('deps');
    const form = await c.req.parseBody();
    const email = String(form.email ?? '').trim().toLowerCase();
    const password = String(form.password ?? '');
    if (!(await checkLoginCsrf(c, form._csrf))) {
      return page(c, <LoginPage csrf={await loginCsrf(c)} email={email} error="The sign-in form expired. Please try again." />, 403);
    }
    const locked = await loginLockedFor(c, email);
    if (locked) {
      return page(c, <LoginPage csrf={await loginCsrf(c)} email={email} error={`Too many failed sign-ins. Try again in ${locked} minute${locked === 1 ? '' : 's'}.`} />, 429);
    }
    const [user] = await deps.db.select().from(portalUsers).where(eq(portalUsers.email, email));
    const hasher = deps.passwordHasher ?? pbkdf2Hasher();
    // Hash even for an unknown user so timing does not reveal which e-mails exist.
    const ok = user ? await hasher.verify(password, user.passwordHash) : (await hasher.hash(password), false);
    if (!user || !ok) {
      await recordLoginFailure(c, email);
      deps.log.warn({ email }, 'portal sign-in failed');
      return page(c, <LoginPage csrf={await loginCsrf(c)} email={email} error="Wrong e-mail or password." />, 401);
    }
    await clearLoginFailures(c, email);
    await startSession(c, user);
    return c.redirect('/portal/licences', 303);
  })
  // Everything below needs a session; every POST also needs the session's CSRF token.
  .use('/portal/*', async (c, next) => {
    const s = await currentSession(c);
    if (!s) return c.req.method === 'GET' ? c.redirect('/portal/login', 303) : page(c, <LoginPage csrf={await loginCsrf(c)} error="Your session ended. Please sign in again." />, 401);
    if (c.req.method === 'POST') {
      const form = await c.req.parseBody();
      if (form._csrf !== s.csrf) return c.text('The form is out of date (CSRF check failed). Go back, reload the page and try again.', 403);
    }
    sessions.set(c.req.raw, s);
    await next();
  })
  .get('/portal', (c) => c.redirect('/portal/licences', 303))
  .post('/portal/logout', async (c) => {
    await endSession(c, sessionOf(c));
    return c.redirect('/portal/login', 303);
  })
  .get('/portal/licences', async (c) => {
    const s = sessionOf(c);
    return page(c, <LicencesPage ctx={await ctxOf(c, s)} rows={await inventoryRows(c.get('deps'), s.orgId)} />);
  })
  .post('/portal/licences/add', async (c) => {
    const s = sessionOf(c);
    const text = String((await c.req.parseBody()).codes ?? '');
    try {
      const r = await addCodes(c.get('deps'), s.orgId, text);
      const ok = `Added ${r.added.length} code${r.added.length === 1 ? '' : 's'}${r.alreadyInInventory.length ? ` (${r.alreadyInInventory.length} already in the inventory)` : ''}.${r.needsActivation.length ? ' Codes that need activation must be activated within 14 days of being applied.' : ''}`;
      return page(c, <LicencesPage ctx={await ctxOf(c, s)} rows={await inventoryRows(c.get('deps'), s.orgId)} msg={{ ok }} />);
    } catch (err) {
      const e = asError(err);
      return page(c, <LicencesPage ctx={await ctxOf(c, s)} rows={await inventoryRows(c.get('deps'), s.orgId)} msg={e} codesText={text} />, e.status);
    }
  })
  .post('/portal/licences/remove', async (c) => {
    const s = sessionOf(c);
    try {
      const r = await removeCode(c.get('deps'), s.orgId, String((await c.req.parseBody()).code ?? ''));
      return page(c, <LicencesPage ctx={await ctxOf(c, s)} rows={await inventoryRows(c.get('deps'), s.orgId)} msg={{ ok: `Removed ${r.serial} from the inventory.` }} />);
    } catch (err) {
      const e = asError(err);
      return page(c, <LicencesPage ctx={await ctxOf(c, s)} rows={await inventoryRows(c.get('deps'), s.orgId)} msg={e} />, e.status);
    }
  })
  .post('/portal/licences/deactivate', async (c) => {
    const s = sessionOf(c);
    const deps = c.get('deps');
    const form = await c.req.parseBody();
    let msg: { ok?: string; error?: string; errorCode?: string } = {};
    let status: 200 | 400 = 200;
    try {
      const [a] = await deps.db.select().from(licenceAssignments)
        .where(and(eq(licenceAssignments.id, String(form.assignment ?? '')), eq(licenceAssignments.orgId, s.orgId), ne(licenceAssignments.state, 'deactivated')));
      if (!a) throw new TandemError('licence_not_active', 'That licence is not active on that host any more.', 409);
      const r = await deactivateAssignment(deps, s.orgId, a, 'portal');
      msg = { ok: `Deactivated ${r.serial} on ${a.hostname ?? 'the host'}. The licence is free for another host.` };
    } catch (err) {
      const e = asError(err);
      msg = e;
      status = e.status;
    }
    if (form.back === 'hosts') return page(c, <HostsPage ctx={await ctxOf(c, s)} hosts={await hostRows(c, s.orgId)} msg={msg} />, status);
    return page(c, <LicencesPage ctx={await ctxOf(c, s)} rows={await inventoryRows(deps, s.orgId)} msg={msg} />, status);
  })
  .get('/portal/licences/export', async (c) => {
    const file = await exportInventory(c.get('deps'), sessionOf(c).orgId);
    c.header('content-disposition', 'attachment; filename="tandem-licences.json"');
    c.header('cache-control', 'no-store');
    return c.json(file);
  })
  .get('/portal/activate', async (c) => {
    const s = sessionOf(c);
    return page(c, <ActivatePage ctx={await ctxOf(c, s)} codes={await inventoryCodes(c, s.orgId)} />);
  })
  .post('/portal/activate/key', async (c) => {
    const s = sessionOf(c);
    const form = await c.req.parseBody();
    const code = String(form.code ?? '');
    const requestCode = String(form.requestCode ?? '');
    const transfer = form.transfer === '1';
    try {
      const r = await activateByRequestCode(c.get('deps'), s.orgId, code, requestCode, { transfer });
      const key = r.activationKey.match(/.{4}/g)!.join('-');
      return page(c, <KeyIssuedPage ctx={await ctxOf(c, s)} activationKey={key} serial={serialLabel(r.licence.serial)} hostname={r.assignment.hostname ?? 'the host'} transferred={r.transferred} />);
    } catch (err) {
      const e = asError(err);
      const offer = e.errorCode === 'host_transfer_required' ? 'Tick this box and submit again to transfer it.' : undefined;
      return page(c, <ActivatePage ctx={await ctxOf(c, s)} codes={await inventoryCodes(c, s.orgId)} msg={e} form={{ code, requestCode, transfer }} offerTransfer={offer} />, e.status);
    }
  })
  .post('/portal/activate/file', async (c) => {
    const s = sessionOf(c);
    const form = await c.req.parseBody();
    const upload = form.request;
    const code = String(form.code ?? '').trim() || undefined;
    try {
      if (!(upload instanceof File) || upload.size === 0) throw new TandemError('activation_request_missing', 'Choose the activation request file written by `tandem license request --file`.', 400);
      if (upload.size > 100_000) throw new TandemError('activation_request_malformed', 'That file is far too large to be an activation request.', 400);
      const r = await activateByRequestFile(c.get('deps'), s.orgId, await upload.text(), { code, transfer: form.transfer === '1' });
      const name = `tandem-${serialLabel(r.licence.serial)}-${(r.assignment.hostname ?? 'host').replace(/[^A-Za-z0-9.-]/g, '_')}.lic`;
      c.header('content-type', 'application/x-tandem-licence; charset=utf-8');
      c.header('content-disposition', `attachment; filename="${name}"`);
      c.header('cache-control', 'no-store');
      return c.body(r.licenceFile);
    } catch (err) {
      const e = asError(err);
      return page(c, <ActivatePage ctx={await ctxOf(c, s)} codes={await inventoryCodes(c, s.orgId)} msg={e} form={{ fileCode: code }} />, e.status);
    }
  })
  .get('/portal/hosts', async (c) => {
    const s = sessionOf(c);
    return page(c, <HostsPage ctx={await ctxOf(c, s)} hosts={await hostRows(c, s.orgId)} />);
  });

/** Enrolled servers plus hosts activated offline that never enrolled, each with its live licences. */
async function hostRows(c: C, orgId: string): Promise<HostRow[]> {
  const { db, clock } = c.get('deps');
  const now = clock.now();
  const srv = await db.select().from(servers).where(eq(servers.orgId, orgId));
  const asgs = await db.select({ a: licenceAssignments, l: licences }).from(licenceAssignments)
    .innerJoin(licences, eq(licences.id, licenceAssignments.licenceId))
    .where(and(eq(licenceAssignments.orgId, orgId), ne(licenceAssignments.state, 'deactivated')));
  const rows: HostRow[] = [];
  const entry = async (a: typeof asgs[number], s?: typeof srv[number]) => {
    const st = await rowStatus(a.l, a.a, s, now);
    return { serial: serialLabel(a.l.serial), state: a.a.state, health: st.health, message: st.message, assignmentId: a.a.id };
  };
  for (const s of srv.sort((x, y) => x.name.localeCompare(y.name))) {
    const mine = asgs.filter((x) => x.a.serverId === s.id);
    rows.push({
      name: s.name, hostname: s.hostname, status: serverStatus(s.lastSeenAt, s.lastPollWaitSec, now), lastSeenAt: isoOrNull(s.lastSeenAt),
      licences: await Promise.all(mine.map((m) => entry(m, s))),
    });
  }
  const known = new Set(srv.map((s) => s.id));
  const offline = asgs.filter((x) => !x.a.serverId || !known.has(x.a.serverId));
  const byHost = new Map<string, typeof offline>();
  for (const x of offline) byHost.set(x.a.hostFingerprint ?? x.a.id, [...(byHost.get(x.a.hostFingerprint ?? x.a.id) ?? []), x]);
  for (const list of byHost.values()) {
    rows.push({
      name: list[0]!.a.hostname ?? 'unknown host', hostname: `host id ${list[0]!.a.hostFingerprint ?? '?'}`, status: 'not enrolled', lastSeenAt: null,
      licences: await Promise.all(list.map((m) => entry(m))),
    });
  }
  return rows;
}
