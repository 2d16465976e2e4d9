// Webhooks end to end: a real HTTP receiver on 127.0.0.1 verifies Standard Webhooks signatures; retries follow the
// schedule on an injected clock; 410 disables the endpoint; delivery log, replay, test action, formats, bad input.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { inProcessHub, testClock } from './support/in-process-hub';
import { generateWebhookSecret, verifyWebhook } from '../shared/events/webhook-signing';

interface Received { headers: http.IncomingHttpHeaders; body: string; json: any; verified: boolean }

async function startReceiver(secret: string, nowSec: () => number) {
  const statuses: number[] = [];
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', async () => {
      const verified = await verifyWebhook(secret, {
        id: String(req.headers['webhook-id']), timestamp: String(req.headers['webhook-timestamp']), signature: String(req.headers['webhook-signature']),
      }, body, nowSec());
      received.push({ headers: req.headers, body, json: JSON.parse(body), verified });
      res.statusCode = statuses.shift() ?? 200;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return { url, statuses, received, close: () => new Promise<void>((r) => server.close(() => r())) };
}

let hub: Awaited<ReturnType<typeof inProcessHub>>;
let rx: Awaited<ReturnType<typeof startReceiver>>;
let secret: string;
const org = 'org_default';

beforeEach(async () => {
  hub = await inProcessHub({ clock: testClock(Date.parse('2025-03-01T12:00:00Z')), events: { jitter: () => 0 } });
  secret = generateWebhookSecret();
  rx = await startReceiver(secret, () => Math.floor(hub.clock.now() / 1000));
});
afterEach(async () => {
  await hub.deps.events.notify.runDue();
  await rx.close();
  hub.close();
});

async function addEndpoint(body: Record<string, unknown> = {}) {
  const r = await hub.call('POST', '/v1/webhooks', { url: rx.url, secret, ...body });
  expect(r.status).toBe(201);
  return r.body;
}

async function raiseAndDeliver(input: Parameters<typeof hub.deps.events.raise>[0]) {
  hub.deps.events.raise(input);
  await hub.deps.events.flush();
  await hub.deps.events.notify.runDue();
}

describe('webhook delivery', () => {
  it('signs every attempt, retries 500s with growing delays on the injected clock, and logs status codes', async () => {
    const ep = await addEndpoint({ name: 'ops' });
    rx.statuses.push(500, 500, 200);
    await raiseAndDeliver({ event: 'job.failover_condition_met', orgId: org, jobId: 'job_a', fields: { jobName: 'web', reason: 'source silent for 30 s' } });
    expect(rx.received).toHaveLength(1);

    // Not due yet: nothing is sent until the clock reaches the next attempt.
    await hub.deps.events.notify.runDue();
    expect(rx.received).toHaveLength(1);
    let log = (await hub.call('GET', `/v1/webhooks/${ep.id}/deliveries`)).body.items;
    expect(log[0]).toMatchObject({ status: 'pending', attempts: 1, lastStatusCode: 500, nextAttemptAt: new Date(hub.clock.now() + 5_000).toISOString() });

    hub.clock.advance(5_000);
    await hub.deps.events.notify.runDue();
    expect(rx.received).toHaveLength(2);
    hub.clock.advance(4 * 60_000);
    await hub.deps.events.notify.runDue();
    expect(rx.received).toHaveLength(2);
    hub.clock.advance(60_000);
    await hub.deps.events.notify.runDue();
    expect(rx.received).toHaveLength(3);

    log = (await hub.call('GET', `/v1/webhooks/${ep.id}/deliveries`)).body.items;
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ status: 'succeeded', attempts: 3, lastStatusCode: 200, event: { type: 'job.failover_condition_met' } });
    expect(log[0].log.map((a: any) => a.statusCode)).toEqual([500, 500, 200]);
    const times = log[0].log.map((a: any) => Date.parse(a.at));
    expect([times[1] - times[0], times[2] - times[1]]).toEqual([5_000, 300_000]);

    expect(rx.received.every((r) => r.verified)).toBe(true);
    expect(new Set(rx.received.map((r) => r.headers['webhook-id'])).size).toBe(1);
    expect(rx.received[0]!.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    const payload = rx.received[2]!.json;
    expect(payload).toMatchObject({ type: 'job.failover_condition_met', data: { typeId: 3001, severity: 'error', jobId: 'job_a', count: 1, dedupKey: 'job_a:job.failover_condition_met' } });
    expect(Date.parse(payload.timestamp)).not.toBeNaN();
  });

  it('a 410 disables the endpoint; later events skip it; re-enabling and replay deliver the missed event', async () => {
    const ep = await addEndpoint();
    rx.statuses.push(410);
    await raiseAndDeliver({ event: 'licence.expired', orgId: org, fields: { licenceId: 'lic_1', expiresAt: '2025-03-01' } });
    const shown = (await hub.call('GET', `/v1/webhooks/${ep.id}`)).body;
    expect(shown).toMatchObject({ enabled: false, disabledReason: 'the receiver answered 410 Gone' });
    const [delivery] = (await hub.call('GET', `/v1/webhooks/${ep.id}/deliveries`)).body.items;
    expect(delivery).toMatchObject({ status: 'failed', lastStatusCode: 410, attempts: 1 });
    await hub.deps.events.flush();
    expect((await hub.call('GET', '/v1/events?type=notify.webhook_disabled')).body.items[0].fields).toMatchObject({ endpointId: ep.id });

    hub.clock.advance(60_000);
    await raiseAndDeliver({ event: 'job.started', orgId: org, jobId: 'job_b' });
    expect(rx.received).toHaveLength(1);
    expect((await hub.call('POST', `/v1/webhooks/deliveries/${delivery.id}/replay`)).body.error.code).toBe('webhook_disabled');

    expect((await hub.call('PATCH', `/v1/webhooks/${ep.id}`, { enabled: true })).body).toMatchObject({ enabled: true, disabledReason: null });
    const replay = await hub.call('POST', `/v1/webhooks/deliveries/${delivery.id}/replay`);
    expect(replay.status).toBe(202);
    await hub.deps.events.notify.runDue();
    expect(rx.received).toHaveLength(2);
    expect(rx.received[1]!.json.type).toBe('licence.expired');
    expect(rx.received[1]!.headers['webhook-id']).toBe(rx.received[0]!.headers['webhook-id']);
    const after = (await hub.call('GET', `/v1/webhooks/${ep.id}/deliveries`)).body.items.find((d: any) => d.id === delivery.id);
    expect(after).toMatchObject({ status: 'succeeded', lastStatusCode: 200 });
  });

  it('gives up after the schedule (more than a day) and disables the endpoint', async () => {
    const ep = await addEndpoint();
    for (let i = 0; i < 20; i++) rx.statuses.push(503);
    await raiseAndDeliver({ event: 'snapshot.failed', orgId: org, jobId: 'job_a', fields: { error: 'no space' } });
    const start = hub.clock.now();
    for (let i = 0; i < 12; i++) {
      hub.clock.advance(25 * 3_600_000);
      await hub.deps.events.notify.runDue();
    }
    const [d] = (await hub.call('GET', `/v1/webhooks/${ep.id}/deliveries`)).body.items;
    expect(d.status).toBe('failed');
    expect(d.attempts).toBe(10);
    expect(Date.parse(d.log.at(-1).at) - start).toBeGreaterThan(24 * 3_600_000);
    expect((await hub.call('GET', `/v1/webhooks/${ep.id}`)).body.enabled).toBe(false);
  });

  it('filters decide which endpoints get an event', async () => {
    await addEndpoint({ filter: { severities: ['error'], exclude: [5003] } });
    await raiseAndDeliver({ event: 'job.started', orgId: org, jobId: 'j' });
    await raiseAndDeliver({ event: 'licence.expired', orgId: org });
    await raiseAndDeliver({ event: 'snapshot.failed', orgId: org, jobId: 'j' });
    expect(rx.received.map((r) => r.json.type)).toEqual(['snapshot.failed']);
  });

  it('the test action sends now and reports the receiver’s answer', async () => {
    const ep = await addEndpoint();
    rx.statuses.push(204);
    const r = await hub.call('POST', `/v1/webhooks/${ep.id}/test`);
    expect(r.body).toMatchObject({ ok: true, statusCode: 204, status: 'succeeded' });
    expect(rx.received[0]!.json.type).toBe('notify.test');
    expect(rx.received[0]!.verified).toBe(true);
  });

  it('Slack and Teams Workflows formats', async () => {
    await addEndpoint({ format: 'slack' });
    await addEndpoint({ format: 'teams' });
    await raiseAndDeliver({ event: 'job.lag_above_threshold', orgId: org, jobId: 'job_a', fields: { jobName: 'web', lagSec: 120, thresholdSec: 60 } });
    const slack = rx.received.find((r) => 'text' in r.json)!.json;
    expect(slack.text).toContain('[WARNING] Replication lag of job web is 120 s, above its threshold of 60 s.');
    expect(slack.blocks[0].type).toBe('section');
    const teams = rx.received.find((r) => 'attachments' in r.json)!.json;
    expect(teams.type).toBe('message');
    expect(teams.attachments[0]).toMatchObject({ contentType: 'application/vnd.microsoft.card.adaptive', content: { type: 'AdaptiveCard' } });
    expect(teams.attachments[0].content.body[0].text).toContain('Replication lag of job web');
  });
});

describe('webhook endpoints API', () => {
  it('never returns the secret', async () => {
    const ep = await addEndpoint();
    const list = await hub.call('GET', '/v1/webhooks');
    const one = await hub.call('GET', `/v1/webhooks/${ep.id}`);
    const patched = await hub.call('PATCH', `/v1/webhooks/${ep.id}`, { secret: generateWebhookSecret(), name: 'x' });
    for (const r of [ep, list.body, one.body, patched.body]) {
      expect(JSON.stringify(r)).not.toContain('whsec_');
    }
    expect(one.body.secretSet).toBe(true);
    expect((await hub.call('DELETE', `/v1/webhooks/${ep.id}`)).status).toBe(200);
    expect((await hub.call('GET', `/v1/webhooks/${ep.id}`)).status).toBe(404);
  });

  it('refuses bad input with 400 and a clear code', async () => {
    const post = (b: Record<string, unknown>) => hub.call('POST', '/v1/webhooks', { url: rx.url, secret, ...b });
    expect((await post({ url: 'ftp://example.com/x' })).body.error.code).toBe('invalid_webhook_url');
    expect((await post({ url: 'file:///etc/passwd' })).body.error.code).toBe('invalid_webhook_url');
    expect((await post({ url: 'not a url' })).body.error.code).toBe('invalid_webhook_url');
    expect((await post({ secret: 'hunter2' })).body.error.code).toBe('invalid_webhook_secret');
    const big = await post({ filter: { include: Array.from({ length: 101 }, () => 2002) } });
    expect(big.status).toBe(400);
    expect(big.body.error.message).toMatch(/at most 100/);
    expect((await post({ filter: { exclude: ['job.exploded'] } })).body.error.message).toMatch(/unknown event/);
    expect((await post({ format: 'discord' })).status).toBe(400);
    expect((await post({ extra: 1 })).status).toBe(400);
    const monitor = (await hub.call('POST', '/v1/api-tokens', { name: 'm', role: 'monitor' })).body.token;
    expect((await hub.call('POST', '/v1/webhooks', { url: rx.url, secret }, monitor)).status).toBe(403);
  });

  it('a multi-tenant hub refuses loopback and private targets unless allow-listed', async () => {
    const multi = await inProcessHub({ events: { policy: { multiTenant: true, allow: [] } } });
    const refused = await multi.call('POST', '/v1/webhooks', { url: rx.url, secret });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ code: 'invalid_webhook_url', message: expect.stringMatching(/multi-tenant/) });
    expect((await multi.call('POST', '/v1/webhooks', { url: 'http://169.254.169.254/latest/meta-data', secret })).status).toBe(400);
    expect((await multi.call('POST', '/v1/webhooks', { url: 'https://hooks.example.com/x', secret })).status).toBe(201);
    multi.close();
    const allowed = await inProcessHub({ events: { policy: { multiTenant: true, allow: ['127.0.0.0/8'] } } });
    expect((await allowed.call('POST', '/v1/webhooks', { url: rx.url, secret })).status).toBe(201);
    allowed.close();
  });
});
