// The portal's guards without a browser: session cookie flags, CSRF on every form, the sign-in throttle, and that a
// portal user only ever sees their own organization's licences and hosts.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { inProcessHub } from './support/in-process-hub';
import { LOGIN_MAX_FAILURES, LOGIN_WINDOW_MS } from '../hub/portal/session';

let hub: Awaited<ReturnType<typeof inProcessHub>>;
beforeEach(async () => { hub = await inProcessHub(); });
afterEach(() => hub.close());

/** A tiny browser: keeps cookies, posts urlencoded forms, follows nothing. */
function browser() {
  const jar = new Map<string, string>();
  async function req(method: string, path: string, form?: Record<string, string>) {
    const res = await hub.app.request(path, {
      method,
      headers: {
        cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; '),
        ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      body: form ? new URLSearchParams(form).toString() : undefined,
    });
    for (const c of res.headers.getSetCookie()) {
      const [kv] = c.split(';');
      const [k, ...v] = kv!.split('=');
      if (/Max-Age=0/i.test(c)) jar.delete(k!); else jar.set(k!, v.join('='));
    }
    return { status: res.status, location: res.headers.get('location'), text: await res.text(), cookies: res.headers.getSetCookie() };
  }
  const field = (html: string, name: string) => html.match(new RegExp(`name="${name}" value="([^"]+)"`))?.[1] ?? '';
  return { req, field, jar };
}

async function setup() {
  const issuer = (await hub.call('POST', '/v1/api-tokens', { name: 'v', role: 'issuer' })).body.token;
  const orgs = [];
  for (const name of ['north', 'south']) {
    const org = (await hub.call('POST', '/v1/orgs', { name }, issuer)).body;
    const [lic] = (await hub.call('POST', '/v1/licences/issue', { orgId: org.id, type: 'single' }, issuer)).body.items;
    await hub.call('POST', '/v1/licences', { codes: lic.code }, org.adminToken);
    await hub.call('POST', '/v1/portal-users', { email: `ops@${name}.test`, password: 'a long password' }, org.adminToken);
    orgs.push({ ...org, code: lic.code as string });
  }
  return orgs;
}

async function signIn(b: ReturnType<typeof browser>, email: string, password = 'a long password') {
  const login = await b.req('GET', '/portal/login');
  return b.req('POST', '/portal/login', { _csrf: b.field(login.text, '_csrf'), email, password });
}

describe('activation portal guards', () => {
  it('signs in with an http-only, same-site session cookie and shows only the user\'s own organization', async () => {
    const [north, south] = await setup();
    const b = browser();
    const r = await signIn(b, 'ops@north.test');
    expect(r).toMatchObject({ status: 303, location: '/portal/licences' });
    const cookie = r.cookies.find((c) => c.startsWith('tandem_portal='))!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Path=\/portal/);
    const page = await b.req('GET', '/portal/licences');
    expect(page.status).toBe(200);
    expect(page.text).toContain(north!.code);
    expect(page.text).not.toContain(south!.code);
    // Adding the other org's code from the portal is refused with its specific error.
    const add = await b.req('POST', '/portal/licences/add', { _csrf: b.field(page.text, '_csrf'), codes: south!.code });
    expect(add.status).toBe(403);
    expect(add.text).toContain('licence_other_org');
  });

  it('refuses forms without the session CSRF token, and a forged session cookie', async () => {
    const [north] = await setup();
    const b = browser();
    await signIn(b, 'ops@north.test');
    const noToken = await b.req('POST', '/portal/licences/remove', { code: north!.code });
    expect(noToken.status).toBe(403);
    const wrong = await b.req('POST', '/portal/licences/remove', { code: north!.code, _csrf: 'csrf_guess' });
    expect(wrong.status).toBe(403);
    expect((await hub.call('GET', '/v1/licences', undefined, north!.adminToken)).body.items).toHaveLength(1);
    const forged = browser();
    forged.jar.set('tandem_portal', 'ps_made_up.c2lnbmF0dXJl');
    expect((await forged.req('GET', '/portal/licences')).location).toBe('/portal/login');
    // The login form itself needs its own token.
    expect((await browser().req('POST', '/portal/login', { email: 'ops@north.test', password: 'a long password' })).status).toBe(403);
  });

  it('locks sign-in after repeated failures, even with the right password, until the window passes', async () => {
    await setup();
    const b = browser();
    for (let i = 0; i < LOGIN_MAX_FAILURES; i++) expect((await signIn(b, 'ops@north.test', 'nope nope nope')).status).toBe(401);
    const locked = await signIn(b, 'ops@north.test');
    expect(locked.status).toBe(429);
    expect(locked.text).toMatch(/Too many failed sign-ins/);
    hub.clock.advance(LOGIN_WINDOW_MS + 1000);
    expect((await signIn(b, 'ops@north.test')).status).toBe(303);
  });

  it('signing out ends the session on the hub', async () => {
    await setup();
    const b = browser();
    await signIn(b, 'ops@north.test');
    const stolen = b.jar.get('tandem_portal')!;
    const page = await b.req('GET', '/portal/hosts');
    expect((await b.req('POST', '/portal/logout', { _csrf: b.field(page.text, '_csrf') })).location).toBe('/portal/login');
    const replay = browser();
    replay.jar.set('tandem_portal', stolen);
    expect((await replay.req('GET', '/portal/licences')).location).toBe('/portal/login');
  });
});
