// E-mail notification settings of the org (SMTP), and a test action that reports the SMTP server's answer.
import { Hono } from 'hono';
import { eq } from 'drizzle-orm';
import { EmailSettingsPut, EmailTestRequest } from '../../shared/events/api';
import { TandemError, badRequest, notFound } from '../../shared/errors';
import { emailSettings } from '../db/schema';
import { requireAdmin, requireRead, apiAuth } from '../middleware/auth';
import { parseBody } from '../middleware/validate';
import { documentRoutes } from '../openapi';
import type { HubEnv } from '../deps';
import { iso } from './time';

documentRoutes([
  { method: 'get', path: '/v1/notifications/email', summary: 'Show the e-mail notification settings (password never shown)', auth: 'read' },
  { method: 'put', path: '/v1/notifications/email', summary: 'Set the e-mail notification settings (SMTP server, TLS, auth, recipients, filters)', auth: 'admin', body: EmailSettingsPut },
  { method: 'post', path: '/v1/notifications/email/test', summary: 'Send a test e-mail now and report the SMTP result', auth: 'admin', body: EmailTestRequest },
]);

type Row = typeof emailSettings.$inferSelect;

function view(r: Row) {
  const { password, orgId: _org, updatedAt, ...rest } = r;
  return { configured: true, ...rest, passwordSet: password != null, updatedAt: iso(updatedAt) };
}

const defaultPort = (tls: Row['tls']) => (tls === 'implicit' ? 465 : tls === 'starttls' ? 587 : 25);

export const notificationRoutes = new Hono<HubEnv>()
  .get('/v1/notifications/email', requireRead, async (c) => {
    const { db } = c.get('deps');
    const [row] = await db.select().from(emailSettings).where(eq(emailSettings.orgId, apiAuth(c).orgId));
    return c.json(row ? view(row) : { configured: false });
  })
  .put('/v1/notifications/email', requireAdmin, async (c) => {
    const { db, clock } = c.get('deps');
    const orgId = apiAuth(c).orgId;
    const body = await parseBody(c, EmailSettingsPut);
    const [existing] = await db.select().from(emailSettings).where(eq(emailSettings.orgId, orgId));
    const password = body.password === undefined ? (existing?.password ?? null) : body.password;
    if (password && !body.username) throw badRequest('username_required', 'An SMTP password needs a username; set "username" too.');
    const row: Row = {
      orgId, enabled: body.enabled, host: body.host, port: body.port ?? defaultPort(body.tls), tls: body.tls,
      username: body.username ?? null, password, from: body.from, recipients: body.recipients,
      subjectPrefix: body.subjectPrefix, includeText: body.includeText, filter: body.filter, updatedAt: clock.now(),
    };
    await db.insert(emailSettings).values(row).onConflictDoUpdate({ target: emailSettings.orgId, set: { ...row } });
    return c.json(view(row));
  })
  .post('/v1/notifications/email/test', requireAdmin, async (c) => {
    const { db, events, clock } = c.get('deps');
    const orgId = apiAuth(c).orgId;
    const hasBody = (c.req.header('content-length') ?? '0') !== '0' || c.req.header('content-type')?.includes('json');
    const body = hasBody ? await parseBody(c, EmailTestRequest) : {};
    const [s] = await db.select().from(emailSettings).where(eq(emailSettings.orgId, orgId));
    if (!s) throw notFound('e-mail settings', 'email');
    const transport = events.notify.email;
    if (!transport) throw new TandemError('email_unavailable', 'This hub has no e-mail transport: on Workers set TANDEM_EMAIL_RELAY_URL (see the README, "E-mail relay").', 400);
    const to = body.to ?? s.recipients;
    const result = await transport.send(s, {
      from: s.from, to, subject: `${s.subjectPrefix ? s.subjectPrefix + ' ' : ''}Test message`,
      text: `This is a test message from the Tandem hub, sent ${iso(clock.now())}.\nE-mail notifications for this organisation reach ${to.join(', ')}.\n`,
    });
    if (!result.ok) {
      throw new TandemError('smtp_failed', `The test e-mail was not sent: ${result.error ?? 'unknown error'}. Check host, port, TLS mode and credentials.`, 502, { response: result.response ?? null });
    }
    return c.json({ ok: true, to, response: result.response ?? null, messageId: result.messageId ?? null });
  });
