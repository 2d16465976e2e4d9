// The hub API in-process over a real libSQL file: auth, config tokens, enrolment refusals and every bad-input class.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { eq, count } from 'drizzle-orm';
import { inProcessHub } from './support/in-process-hub';
import { servers } from '../hub/db/schema';
import { generateSigningKey, signHubJwt } from '../shared/tokens';

const FP = Array.from({ length: 32 }, () => 'AB').join(':');
const host = (name: string, machineId = `m-${name}`) => ({
  name, hostname: `${name}.local`, machineId, os: 'Linux', agentVersion: '0.1.0', addresses: ['127.0.0.1'],
  dataPort: 6325, filesystems: { '/data': 'ext4' }, certFingerprint: FP,
});

let hub: Awaited<ReturnType<typeof inProcessHub>>;
beforeEach(async () => { hub = await inProcessHub(); });
afterEach(() => hub.close());

async function serverCount() {
  const [r] = await hub.deps.db.select({ n: count() }).from(servers);
  return r!.n;
}

describe('health, keys and openapi', () => {
  it('health needs no token and reports the version', async () => {
    const r = await hub.call('GET', '/v1/health', undefined, null);
    expect(r).toMatchObject({ status: 200, body: { ok: true, version: expect.any(String) } });
  });
  it('serves the hub public key as a JWKS without private parts', async () => {
    const r = await hub.call('GET', '/.well-known/jwks.json', undefined, null);
    expect(r.body.keys).toHaveLength(1);
    expect(r.body.keys[0]).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA' });
    expect(r.body.keys[0].d).toBeUndefined();
  });
  it('openapi lists the routes with request schemas from zod', async () => {
    const r = await hub.call('GET', '/v1/openapi.json', undefined, null);
    expect(r.body.openapi).toBe('3.1.0');
    expect(r.body.paths['/v1/agent-tokens'].post.requestBody.content['application/json'].schema.properties).toHaveProperty('expiresInSec');
  });
});

describe('API tokens and roles', () => {
  it('an admin creates a monitor token that can read but not write', async () => {
    const created = await hub.call('POST', '/v1/api-tokens', { name: 'grafana', role: 'monitor' });
    expect(created.status).toBe(201);
    const monitor = created.body.token as string;
    expect((await hub.call('GET', '/v1/servers', undefined, monitor)).status).toBe(200);
    const write = await hub.call('POST', '/v1/agent-tokens', {}, monitor);
    expect(write.status).toBe(403);
    expect(write.body.error.code).toBe('forbidden');
  });
  it('tokens are listed without their secret and can be deleted', async () => {
    const created = await hub.call('POST', '/v1/api-tokens', { name: 'x', role: 'admin' });
    const list = await hub.call('GET', '/v1/api-tokens');
    expect(JSON.stringify(list.body)).not.toContain(created.body.token);
    expect((await hub.call('DELETE', `/v1/api-tokens/${created.body.id}`)).status).toBe(200);
    expect((await hub.call('GET', '/v1/servers', undefined, created.body.token)).status).toBe(401);
  });
});

describe('agent config tokens and enrolment', () => {
  async function configToken(body: Record<string, unknown> = {}) {
    const r = await hub.call('POST', '/v1/agent-tokens', body);
    expect(r.status).toBe(201);
    return r.body as { id: string; token: string };
  }

  it('a valid token enrols a host and returns a working agent credential', async () => {
    const t = await configToken({ name: 'web', defaults: { pollWaitSec: 5 } });
    const r = await hub.call('POST', '/v1/agent/enrol', { configToken: t.token, host: host('web1') }, null);
    expect(r.status).toBe(201);
    expect(r.body.settings).toEqual({ pollWaitSec: 5 });
    const poll = await hub.call('POST', '/v1/agent/poll', { agentTime: hub.clock.now() + 1500, agentVersion: '0.1.0' }, r.body.credential);
    expect(poll.status).toBe(200);
    const s = await hub.call('GET', `/v1/servers/${r.body.serverId}`);
    expect(s.body).toMatchObject({ name: 'web1', status: 'online', clockSkewMs: 1500 });
  });

  it('the token carries the hub URL, expiry and uses', async () => {
    const t = await configToken({ maxUses: 3, expiresInSec: 3600 });
    const payload = JSON.parse(Buffer.from(t.token.split('.')[1]!, 'base64url').toString());
    expect(payload).toMatchObject({ hub: 'http://hub.test', maxUses: 3, sub: t.id, typ: 'agent-config' });
    expect(payload.exp).toBe(Math.floor((hub.clock.now() + 3600_000) / 1000));
  });

  it('an expired token gets 401 token_expired and creates nothing', async () => {
    const t = await configToken({ expiresInSec: 60 });
    hub.clock.advance(61_000);
    const r = await hub.call('POST', '/v1/agent/enrol', { configToken: t.token, host: host('a') }, null);
    expect(r).toMatchObject({ status: 401, body: { error: { code: 'token_expired' } } });
    expect(await serverCount()).toBe(0);
  });

  it('a revoked token gets 401 token_revoked and creates nothing', async () => {
    const t = await configToken();
    expect((await hub.call('DELETE', `/v1/agent-tokens/${t.id}`)).status).toBe(200);
    const r = await hub.call('POST', '/v1/agent/enrol', { configToken: t.token, host: host('a') }, null);
    expect(r).toMatchObject({ status: 401, body: { error: { code: 'token_revoked' } } });
    expect(await serverCount()).toBe(0);
  });

  it('a used-up token gets 401 token_used_up after its last use', async () => {
    const t = await configToken({ maxUses: 1 });
    expect((await hub.call('POST', '/v1/agent/enrol', { configToken: t.token, host: host('a') }, null)).status).toBe(201);
    const r = await hub.call('POST', '/v1/agent/enrol', { configToken: t.token, host: host('b') }, null);
    expect(r).toMatchObject({ status: 401, body: { error: { code: 'token_used_up' } } });
    expect(await serverCount()).toBe(1);
  });

  it('a forged token (signed by another key) gets 401 and creates nothing', async () => {
    const forger = await generateSigningKey();
    const kid = hub.deps.keys.current().kid;
    const forged = await signHubJwt({ ...forger, kid }, 'agent-config',
      { sub: 'atk_x', org: 'org_default', hub: 'http://evil', maxUses: null, defaults: null }, Math.floor(hub.clock.now() / 1000) + 600);
    const r = await hub.call('POST', '/v1/agent/enrol', { configToken: forged, host: host('a') }, null);
    expect(r).toMatchObject({ status: 401, body: { error: { code: 'token_invalid' } } });
    expect(await serverCount()).toBe(0);
  });

  it('the same machine re-enrolling keeps its server id; another machine cannot take the name', async () => {
    const t = await configToken();
    const a = await hub.call('POST', '/v1/agent/enrol', { configToken: t.token, host: host('db') }, null);
    const again = await hub.call('POST', '/v1/agent/enrol', { configToken: t.token, host: host('db') }, null);
    expect(again.status).toBe(200);
    expect(again.body.serverId).toBe(a.body.serverId);
    expect((await hub.call('POST', '/v1/agent/poll', { agentTime: 1, agentVersion: '0' }, a.body.credential)).status).toBe(401);
    const other = await hub.call('POST', '/v1/agent/enrol', { configToken: t.token, host: host('db', 'other-machine') }, null);
    expect(other).toMatchObject({ status: 409, body: { error: { code: 'server_name_taken' } } });
  });
});

describe('commands through the poll channel', () => {
  it('a queued command is delivered on poll, re-delivered until acked, and its result recorded once', async () => {
    const t = (await hub.call('POST', '/v1/agent-tokens', {})).body;
    const agent = (await hub.call('POST', '/v1/agent/enrol', { configToken: t.token, host: host('a') }, null)).body;
    const cmd = await hub.call('POST', `/v1/servers/${agent.serverId}/commands`, { kind: 'noop', payload: { n: 1 } });
    expect(cmd.body.status).toBe('pending');
    const p1 = await hub.call('POST', '/v1/agent/poll', { agentTime: 1, agentVersion: '0' }, agent.credential);
    expect(p1.body.commands.map((c: any) => c.id)).toEqual([cmd.body.id]);
    const p2 = await hub.call('POST', '/v1/agent/poll', { agentTime: 1, agentVersion: '0' }, agent.credential);
    expect(p2.body.commands).toHaveLength(1);
    const res = await hub.call('POST', `/v1/agent/commands/${cmd.body.id}/result`, { ok: true, result: { pong: true } }, agent.credential);
    expect(res.body).toMatchObject({ status: 'succeeded', duplicate: false });
    const dup = await hub.call('POST', `/v1/agent/commands/${cmd.body.id}/result`, { ok: false, error: { code: 'x', message: 'y' } }, agent.credential);
    expect(dup.body).toMatchObject({ status: 'succeeded', duplicate: true });
    const p3 = await hub.call('POST', '/v1/agent/poll', { agentTime: 1, agentVersion: '0' }, agent.credential);
    expect(p3.body.commands).toHaveLength(0);
    expect((await hub.call('GET', `/v1/commands/${cmd.body.id}`)).body).toMatchObject({ status: 'succeeded', result: { pong: true } });
  });

  it('a long poll returns as soon as a command is queued', async () => {
    const t = (await hub.call('POST', '/v1/agent-tokens', {})).body;
    const agent = (await hub.call('POST', '/v1/agent/enrol', { configToken: t.token, host: host('a') }, null)).body;
    const started = Date.now();
    const polling = hub.call('POST', '/v1/agent/poll', { wait: 20, agentTime: 1, agentVersion: '0' }, agent.credential);
    await new Promise((r) => setTimeout(r, 200));
    await hub.call('POST', `/v1/servers/${agent.serverId}/commands`, { kind: 'noop' });
    const res = await polling;
    expect(res.body.commands).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('a poll naming an old goal version is answered at once, so an answer the agent lost is not waited out', async () => {
    const t = (await hub.call('POST', '/v1/agent-tokens', {})).body;
    const agent = (await hub.call('POST', '/v1/agent/enrol', { configToken: t.token, host: host('a') }, null)).body;
    const poll = (desiredVersion: string, wait: number) =>
      hub.call('POST', '/v1/agent/poll', { wait, agentTime: 1, agentVersion: '0', desiredVersion }, agent.credential);
    // An agent that has no goal yet gets one without waiting.
    const first = await poll('', 20);
    expect(first.body.desiredVersion).toMatch(/^[0-9a-f]{32}$/);
    // The goal changes during a long poll, which is answered, but the agent never reads that answer (it cut the poll
    // short to report a change): its next poll, still naming the old version, is answered at once, not held for 20 s.
    const lost = poll(first.body.desiredVersion, 20);
    await new Promise((r) => setTimeout(r, 200));
    expect((await hub.call('POST', `/v1/servers/${agent.serverId}/target-pause`)).status).toBe(200);
    await lost;
    const started = Date.now();
    const second = await poll(first.body.desiredVersion, 20);
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(second.body.settings.targetPaused).toBe(true);
    expect(second.body.desiredVersion).not.toBe(first.body.desiredVersion);
    expect(second.body.waitSec).toBe(20); // held up to the agent's wait (a hub on Workers says 0)
    // Holding the current version, the poll is held until its wait ends (the hub's clock is the test's).
    let answered = false;
    const third = poll(second.body.desiredVersion, 20).then((r) => { answered = true; return r; });
    await new Promise((r) => setTimeout(r, 500));
    expect(answered).toBe(false);
    hub.clock.advance(21_000);
    expect((await third).body.desiredVersion).toBe(second.body.desiredVersion);
  });

  it('removing a server revokes its agent credential', async () => {
    const t = (await hub.call('POST', '/v1/agent-tokens', {})).body;
    const agent = (await hub.call('POST', '/v1/agent/enrol', { configToken: t.token, host: host('a') }, null)).body;
    expect((await hub.call('DELETE', `/v1/servers/a`)).status).toBe(200);
    const poll = await hub.call('POST', '/v1/agent/poll', { agentTime: 1, agentVersion: '0' }, agent.credential);
    expect(poll).toMatchObject({ status: 401, body: { error: { code: 'agent_unknown' } } });
  });
});

describe('bad input never gets a 500 nor a partial write', () => {
  it('unknown JSON fields are refused with 400', async () => {
    const r = await hub.call('POST', '/v1/api-tokens', { name: 'x', role: 'admin', colour: 'red' });
    expect(r).toMatchObject({ status: 400, body: { error: { code: 'invalid_request' } } });
    expect(r.body.error.message).toContain('colour');
  });
  it('wrong types are refused with 400 naming the field', async () => {
    const r = await hub.call('POST', '/v1/agent-tokens', { expiresInSec: 'soon' });
    expect(r).toMatchObject({ status: 400, body: { error: { code: 'invalid_request' } } });
    expect(r.body.error.message).toContain('expiresInSec');
  });
  it('invalid JSON is refused with 400 invalid_json', async () => {
    const r = await hub.call('POST', '/v1/api-tokens', '{"name": ');
    expect(r).toMatchObject({ status: 400, body: { error: { code: 'invalid_json' } } });
  });
  it('bodies over 1 MiB are refused with 413 and nothing is written', async () => {
    const before = (await hub.call('GET', '/v1/api-tokens')).body.items.length;
    const r = await hub.call('POST', '/v1/api-tokens', { name: 'x'.repeat(1024 * 1024 + 10), role: 'admin' });
    expect(r).toMatchObject({ status: 413, body: { error: { code: 'payload_too_large' } } });
    expect((await hub.call('GET', '/v1/api-tokens')).body.items.length).toBe(before);
  });
  it('missing and bad tokens get 401, agent routes refuse operator tokens', async () => {
    expect((await hub.call('GET', '/v1/servers', undefined, null)).status).toBe(401);
    expect((await hub.call('GET', '/v1/servers', undefined, 'tnd_api_nope')).body.error.code).toBe('unauthorized');
    expect((await hub.call('POST', '/v1/agent/poll', { agentTime: 1, agentVersion: '0' })).body.error.code).toBe('agent_unknown');
  });
  it('unknown ids get 404, unknown routes get a JSON 404', async () => {
    expect((await hub.call('GET', '/v1/servers/nope')).body.error.code).toBe('not_found');
    expect((await hub.call('GET', '/v1/nothing-here')).body.error.code).toBe('route_not_found');
  });
  it('a malformed enrolment leaves no server behind and does not count a use', async () => {
    const t = (await hub.call('POST', '/v1/agent-tokens', { maxUses: 1 })).body;
    const r = await hub.call('POST', '/v1/agent/enrol', { configToken: t.token, host: { ...host('a'), certFingerprint: 'nope' } }, null);
    expect(r.status).toBe(400);
    expect(await serverCount()).toBe(0);
    expect((await hub.call('POST', '/v1/agent/enrol', { configToken: t.token, host: host('a') }, null)).status).toBe(201);
    const [row] = await hub.deps.db.select().from(servers).where(eq(servers.name, 'a'));
    expect(row).toBeDefined();
  });
});
