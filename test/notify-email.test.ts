// E-mail notifications against a real SMTP server (smtp-server on 127.0.0.1): subjects and filters, STARTTLS with a
// self-signed certificate and auth, the test action, bad input, and a hanging server that cannot slow the event path.
import net from 'node:net';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { describe, it, expect, afterEach } from 'vitest';
import { inProcessHub, testClock } from './support/in-process-hub';
import { createSmtpTransport } from '../hub/notify/email-smtp';
import { generateWebhookSecret } from '../shared/events/webhook-signing';
import type { Logger } from '../hub/log';

interface Mail { from: string; to: string[]; subject: string; raw: string; secure: boolean; user?: string }

async function startSmtp(opts: Partial<SMTPServerOptions> = {}) {
  const mails: Mail[] = [];
  const server = new SMTPServer({
    disabledCommands: opts.secure || opts.key ? [] : ['STARTTLS'],
    authOptional: true,
    logger: false,
    ...opts,
    onData(stream, session, cb) {
      let raw = '';
      stream.on('data', (c: Buffer) => { raw += c.toString('utf8'); });
      stream.on('end', () => {
        const subject = /^Subject: (.*(?:\r\n[ \t].*)*)/m.exec(raw)?.[1]?.replace(/\r\n[ \t]/g, ' ') ?? '';
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address),
          subject, raw, secure: session.secure, user: session.user as string | undefined,
        });
        cb(null);
      });
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.server.address() as AddressInfo).port;
  return { port, mails, close: () => new Promise<void>((r) => server.close(() => r())) };
}

async function selfSignedCert(): Promise<{ key: string; cert: string }> {
  x509.cryptoProvider.set(webcrypto as unknown as Crypto);
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01', name: 'CN=127.0.0.1', notBefore: new Date(Date.now() - 86_400_000), notAfter: new Date(Date.now() + 86_400_000),
    signingAlgorithm: alg, keys,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }, { type: 'dns', value: 'localhost' }])],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  return { key: `-----BEGIN PRIVATE KEY-----\n${pkcs8.match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n`, cert: cert.toString('pem') };
}

function captureLogger(lines: string[]): Logger {
  const put = (obj: Record<string, unknown>, msg: string) => { lines.push(JSON.stringify({ ...obj, msg })); };
  return { info: put, warn: put, error: put, debug: put };
}

const org = 'org_default';
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('e-mail notifications over SMTP', () => {
  it('sends a failover-condition and an expiring-licence message with the right subjects; filters drop the rest', async () => {
    const smtp = await startSmtp();
    cleanups.push(smtp.close);
    const hub = await inProcessHub({ clock: testClock(), events: { email: createSmtpTransport({ timeoutMs: 5_000 }) } });
    cleanups.push(hub.close);
    const put = await hub.call('PUT', '/v1/notifications/email', {
      host: '127.0.0.1', port: smtp.port, tls: 'none', from: 'tandem@example.com', recipients: ['ops@example.com', 'dba@example.com'],
      subjectPrefix: '[Tandem prod]', filter: { severities: ['warning', 'error'], exclude: [1004, 'snapshot.failed'] },
    });
    expect(put.status).toBe(200);
    const { events } = hub.deps;
    events.raise({ event: 'job.started', orgId: org, jobId: 'job_a', fields: { jobName: 'web' } }); // info: filtered out
    events.raise({ event: 'agent.clock_skew', orgId: org, serverId: 'srv_1', fields: { serverName: 'db', skewMs: 40000, limitMs: 30000 } }); // excluded by id
    events.raise({ event: 'snapshot.failed', orgId: org, jobId: 'job_a', fields: { jobName: 'web', serverName: 'db', error: 'x' } }); // excluded by name
    events.raise({ event: 'job.failover_condition_met', orgId: org, jobId: 'job_a', fields: { jobName: 'web', reason: 'source did not answer for 30 s' } });
    events.raise({ event: 'licence.expiring', orgId: org, fields: { licenceId: 'lic_9', daysLeft: 14, expiresAt: '2025-04-01' } });
    await events.flush();
    await events.notify.runDue();

    expect(smtp.mails.map((m) => m.subject)).toEqual([
      '[Tandem prod] [ERROR] A failover condition of job web is met: source did not answer for 30 s.',
      '[Tandem prod] [WARNING] Licence lic_9 expires in 14 days (2025-04-01). Renew it to keep replication running.',
    ]);
    expect(smtp.mails[0]).toMatchObject({ from: 'tandem@example.com', to: ['ops@example.com', 'dba@example.com'], secure: false });
    expect(smtp.mails[0]!.raw).toContain('Event: job.failover_condition_met (3001)');
    expect(smtp.mails[0]!.raw).toContain('reason: source did not answer for 30 s');
  });

  it('leaves the event text out when includeText is off', async () => {
    const smtp = await startSmtp();
    cleanups.push(smtp.close);
    const hub = await inProcessHub({ events: { email: createSmtpTransport({ timeoutMs: 5_000 }) } });
    cleanups.push(hub.close);
    await hub.call('PUT', '/v1/notifications/email', { host: '127.0.0.1', port: smtp.port, tls: 'none', from: 'a@example.com', recipients: ['b@example.com'], includeText: false });
    hub.deps.events.raise({ event: 'job.failover_condition_met', orgId: org, jobId: 'job_a', fields: { reason: 'secret-ish detail' } });
    await hub.deps.events.flush();
    await hub.deps.events.notify.runDue();
    expect(smtp.mails).toHaveLength(1);
    expect(smtp.mails[0]!.raw).not.toContain('secret-ish detail\r\n\r\n');
    expect(smtp.mails[0]!.raw).not.toContain('Details:');
  });

  it('STARTTLS with a self-signed certificate and auth; the test action reports the SMTP result; the password stays hidden', async () => {
    const { key, cert } = await selfSignedCert();
    const smtp = await startSmtp({
      key, cert, authOptional: false, authMethods: ['PLAIN', 'LOGIN'],
      onAuth(auth, _session, cb) {
        if (auth.username === 'tandem' && auth.password === 'pa55-w0rd-xyz') cb(null, { user: 'tandem' });
        else cb(new Error('Invalid username or password'));
      },
    });
    cleanups.push(smtp.close);
    const lines: string[] = [];
    const hub = await inProcessHub({ events: { email: createSmtpTransport({ timeoutMs: 5_000, tls: { ca: cert } }), log: captureLogger(lines) } });
    cleanups.push(hub.close);
    const settings = { host: '127.0.0.1', port: smtp.port, tls: 'starttls', username: 'tandem', password: 'pa55-w0rd-xyz', from: 'tandem@example.com', recipients: ['ops@example.com'] };
    expect((await hub.call('PUT', '/v1/notifications/email', settings)).status).toBe(200);

    const test = await hub.call('POST', '/v1/notifications/email/test');
    expect(test.status).toBe(200);
    expect(test.body).toMatchObject({ ok: true, to: ['ops@example.com'], response: expect.stringMatching(/^250/) });
    expect(smtp.mails[0]).toMatchObject({ secure: true, user: 'tandem', subject: '[Tandem] Test message' });

    hub.deps.events.raise({ event: 'failover.failed', orgId: org, jobId: 'job_a', fields: { jobName: 'web', error: 'target IP in use' } });
    await hub.deps.events.flush();
    await hub.deps.events.notify.runDue();
    expect(smtp.mails[1]).toMatchObject({ secure: true, subject: '[Tandem] [ERROR] Failover of job web failed: target IP in use' });

    const shown = await hub.call('GET', '/v1/notifications/email');
    expect(shown.body).toMatchObject({ configured: true, passwordSet: true, username: 'tandem', tls: 'starttls' });
    expect(JSON.stringify(shown.body)).not.toContain('pa55-w0rd-xyz');

    // Keeping the password: PUT without it; then a wrong one is reported with the server's answer.
    const { password: _p, ...noPassword } = settings;
    expect((await hub.call('PUT', '/v1/notifications/email', { ...noPassword, subjectPrefix: '[T]' })).body.passwordSet).toBe(true);
    await hub.call('PUT', '/v1/notifications/email', { ...settings, password: 'wrong-password' });
    const failed = await hub.call('POST', '/v1/notifications/email/test');
    expect(failed.status).toBe(502);
    expect(failed.body.error.code).toBe('smtp_failed');
    expect(failed.body.error.message).toMatch(/EAUTH|Invalid username/);

    hub.deps.events.raise({ event: 'job.failover_condition_met', orgId: org, jobId: 'job_b' });
    await hub.deps.events.flush();
    await hub.deps.events.notify.runDue();
    await hub.deps.events.flush();
    expect((await hub.call('GET', '/v1/events?type=notify.email_failed')).body.items).toHaveLength(1);
    expect(lines.join('\n')).not.toMatch(/pa55-w0rd-xyz|wrong-password/);
  });

  it('implicit TLS works too', async () => {
    const { key, cert } = await selfSignedCert();
    const smtp = await startSmtp({ secure: true, key, cert });
    cleanups.push(smtp.close);
    const hub = await inProcessHub({ events: { email: createSmtpTransport({ timeoutMs: 5_000, tls: { ca: cert } }) } });
    cleanups.push(hub.close);
    await hub.call('PUT', '/v1/notifications/email', { host: '127.0.0.1', port: smtp.port, tls: 'implicit', from: 'a@example.com', recipients: ['b@example.com'] });
    expect((await hub.call('POST', '/v1/notifications/email/test', { to: ['c@example.com'] })).body).toMatchObject({ ok: true, to: ['c@example.com'] });
    expect(smtp.mails[0]).toMatchObject({ secure: true, to: ['c@example.com'] });
  });

  it('refuses bad settings with 400', async () => {
    const hub = await inProcessHub();
    cleanups.push(hub.close);
    const base = { host: 'smtp.example.com', from: 'a@example.com', recipients: ['b@example.com'] };
    const put = (b: Record<string, unknown>) => hub.call('PUT', '/v1/notifications/email', { ...base, ...b });
    expect((await put({ recipients: ['not-an-address'] })).body.error.message).toMatch(/recipients.0: not a valid e-mail address/);
    expect((await put({ from: 'a@b@c' })).status).toBe(400);
    expect((await put({ recipients: [] })).status).toBe(400);
    expect((await put({ tls: 'ssl3' })).status).toBe(400);
    expect((await put({ port: 70000 })).status).toBe(400);
    expect((await put({ host: 'smtp.example.com\r\nRCPT TO:<x@y>' })).status).toBe(400);
    expect((await put({ subjectPrefix: 'a\r\nBcc: x@y' })).status).toBe(400);
    expect((await put({ filter: { exclude: Array.from({ length: 500 }, (_, i) => 2001 + (i % 2)) } })).status).toBe(400);
    expect((await put({ password: 'p' })).body.error.code).toBe('username_required');
    expect((await hub.call('POST', '/v1/notifications/email/test')).status).toBe(404);
    expect((await put({})).status).toBe(200);
    expect((await hub.call('POST', '/v1/notifications/email/test')).body.error.code).toBe('email_unavailable');
  });
});

describe('a hanging SMTP server', () => {
  it('does not delay raise(), requests, or webhook deliveries', async () => {
    // Accepts connections and never says a word: the SMTP client waits for a greeting.
    const sockets: net.Socket[] = [];
    const hang = net.createServer((s) => { sockets.push(s); });
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => { sockets.forEach((s) => s.destroy()); hang.close(() => r()); }));
    const got: string[] = [];
    const rx = http.createServer((req, res) => { let b = ''; req.on('data', (c) => { b += c; }); req.on('end', () => { got.push(JSON.parse(b).type); res.end(); }); });
    await new Promise<void>((r) => rx.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => rx.close(() => r())));

    const hub = await inProcessHub({ events: { email: createSmtpTransport({ timeoutMs: 60_000 }), timeouts: { smtpMs: 60_000 } } });
    cleanups.push(hub.close);
    await hub.call('PUT', '/v1/notifications/email', { host: '127.0.0.1', port: (hang.address() as AddressInfo).port, tls: 'none', from: 'a@example.com', recipients: ['b@example.com'] });
    await hub.call('POST', '/v1/webhooks', { url: `http://127.0.0.1:${(rx.address() as AddressInfo).port}/`, secret: generateWebhookSecret() });

    const t0 = performance.now();
    for (let i = 0; i < 20; i++) hub.deps.events.raise({ event: 'job.failover_condition_met', orgId: org, jobId: `job_${i}` });
    expect(performance.now() - t0).toBeLessThan(50);
    await hub.deps.events.flush();
    // The SMTP connections are open and silent, yet webhooks arrive and the API answers at once.
    await expect.poll(() => got.length, { timeout: 5_000 }).toBe(20);
    await expect.poll(() => sockets.length, { timeout: 5_000 }).toBeGreaterThan(0);
    const t1 = performance.now();
    const list = await hub.call('GET', '/v1/events?limit=100');
    expect(list.body.items).toHaveLength(20);
    expect(performance.now() - t1).toBeLessThan(1_000);
    hub.deps.events.raise({ event: 'job.started', orgId: org, jobId: 'job_late' });
    await hub.deps.events.flush();
    expect(performance.now() - t1).toBeLessThan(2_000);
  });
});
