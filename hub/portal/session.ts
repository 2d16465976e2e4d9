// Portal sessions and their guards: signed http-only SameSite cookies naming a session row, a CSRF token per session
// (and a signed double-submit token on the sign-in form), and a sign-in throttle kept in the db so it holds across
// hub instances. Web-standard only (runs on Workers).
import type { Context } from 'hono';
import { getSignedCookie, setSignedCookie, deleteCookie } from 'hono/cookie';
import { and, eq, gt } from 'drizzle-orm';
import { randomSecret } from '../../shared/tokens';
import { portalLoginFailures, portalSessions, portalUsers } from '../db/schema';
import type { HubEnv } from '../deps';
import { hubSecret } from '../licensing/secrets';

export const SESSION_COOKIE = 'tandem_portal';
export const LOGIN_CSRF_COOKIE = 'tandem_portal_login';
export const SESSION_TTL_MS = 12 * 3600_000;
/** Sign-in throttle: this many failures per key (e-mail, client address) within the window lock it for the window. */
export const LOGIN_MAX_FAILURES = 5;
export const LOGIN_WINDOW_MS = 15 * 60_000;

export interface PortalSession {
  id: string;
  csrf: string;
  orgId: string;
  user: { id: string; email: string; name: string | null };
}

type C = Context<HubEnv>;

const cookieSecret = (c: C) => hubSecret(c.get('deps').db, 'portal-cookie', c.get('deps').clock.now());
const secure = (c: C) => new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https';
const cookieOpts = (c: C, maxAgeSec?: number) => ({
  httpOnly: true, sameSite: 'Strict' as const, secure: secure(c), path: '/portal', ...(maxAgeSec ? { maxAge: maxAgeSec } : {}),
});

export async function currentSession(c: C): Promise<PortalSession | null> {
  const id = await getSignedCookie(c, await cookieSecret(c), SESSION_COOKIE);
  if (!id) return null;
  const { db, clock } = c.get('deps');
  const [row] = await db.select({ s: portalSessions, u: portalUsers }).from(portalSessions)
    .innerJoin(portalUsers, eq(portalUsers.id, portalSessions.userId))
    .where(and(eq(portalSessions.id, id), gt(portalSessions.expiresAt, clock.now())));
  if (!row) return null;
  return { id: row.s.id, csrf: row.s.csrf, orgId: row.u.orgId, user: { id: row.u.id, email: row.u.email, name: row.u.name } };
}

export async function startSession(c: C, user: { id: string; orgId: string }): Promise<void> {
  const { db, clock } = c.get('deps');
  const now = clock.now();
  const id = randomSecret('ps');
  await db.insert(portalSessions).values({ id, userId: user.id, orgId: user.orgId, csrf: randomSecret('csrf', 24), createdAt: now, expiresAt: now + SESSION_TTL_MS });
  await db.update(portalUsers).set({ lastLoginAt: now }).where(eq(portalUsers.id, user.id));
  await setSignedCookie(c, SESSION_COOKIE, id, await cookieSecret(c), cookieOpts(c, SESSION_TTL_MS / 1000));
  deleteCookie(c, LOGIN_CSRF_COOKIE, { path: '/portal' });
}

export async function endSession(c: C, s: PortalSession): Promise<void> {
  await c.get('deps').db.delete(portalSessions).where(eq(portalSessions.id, s.id));
  deleteCookie(c, SESSION_COOKIE, { path: '/portal', secure: secure(c) });
}

/** The sign-in form's CSRF token: a random value in a signed cookie that the form must echo. */
export async function loginCsrf(c: C): Promise<string> {
  const existing = await getSignedCookie(c, await cookieSecret(c), LOGIN_CSRF_COOKIE);
  if (existing) return existing;
  const token = randomSecret('lc', 18);
  await setSignedCookie(c, LOGIN_CSRF_COOKIE, token, await cookieSecret(c), cookieOpts(c, 3600));
  return token;
}

export async function checkLoginCsrf(c: C, sent: unknown): Promise<boolean> {
  const want = await getSignedCookie(c, await cookieSecret(c), LOGIN_CSRF_COOKIE);
  return typeof sent === 'string' && !!want && sent === want;
}

function clientAddress(c: C): string {
  return c.req.header('cf-connecting-ip') ?? c.req.header('x-real-ip') ?? 'direct';
}

/** Minutes until the caller may try again, or 0 when neither the e-mail nor the client address is locked. */
export async function loginLockedFor(c: C, email: string): Promise<number> {
  const { db, clock } = c.get('deps');
  const now = clock.now();
  let wait = 0;
  for (const key of [`email:${email}`, `ip:${clientAddress(c)}`]) {
    const [row] = await db.select().from(portalLoginFailures).where(eq(portalLoginFailures.key, key));
    if (row && row.count >= LOGIN_MAX_FAILURES && now - row.windowStart < LOGIN_WINDOW_MS) {
      wait = Math.max(wait, Math.ceil((row.windowStart + LOGIN_WINDOW_MS - now) / 60_000));
    }
  }
  return wait;
}

export async function recordLoginFailure(c: C, email: string): Promise<void> {
  const { db, clock } = c.get('deps');
  const now = clock.now();
  for (const key of [`email:${email}`, `ip:${clientAddress(c)}`]) {
    const [row] = await db.select().from(portalLoginFailures).where(eq(portalLoginFailures.key, key));
    if (!row || now - row.windowStart >= LOGIN_WINDOW_MS) {
      await db.insert(portalLoginFailures).values({ key, count: 1, windowStart: now })
        .onConflictDoUpdate({ target: portalLoginFailures.key, set: { count: 1, windowStart: now } });
    } else {
      await db.update(portalLoginFailures).set({ count: row.count + 1 }).where(eq(portalLoginFailures.key, key));
    }
  }
}

export async function clearLoginFailures(c: C, email: string): Promise<void> {
  await c.get('deps').db.delete(portalLoginFailures).where(eq(portalLoginFailures.key, `email:${email}`));
}
