// Licensing through the hub API in-process over a real libSQL file: orgs, issuing, inventory, every activation path,
// transfers, deactivation, enforcement, job seats, edition gating, expiry events, and every bad-input class.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { inProcessHub, testClock } from './support/in-process-hub';
import {
  DAY_MS, hostFingerprint, makeRequestCode, verifyLicenceFile, formatCode, makeLicenceCode, randomSerial,
} from '../shared/licensing';
import { licences, licenceAssignments } from '../hub/db/schema';
import { licenceIssuesForJob, claimJobSeat, releaseJobSeat } from '../hub/licensing/enforce';
import { runLicenceSweep } from '../hub/licensing/sweep';
import { addJobValidator } from '../hub/jobs/validate';
import { licenceJobValidator } from '../hub/licensing/job-validator';

addJobValidator(licenceJobValidator);

const FP = Array.from({ length: 32 }, () => 'AB').join(':');
const T0 = Date.UTC(2030, 0, 1, 12);
let hub: Awaited<ReturnType<typeof inProcessHub>>;
let issuer: string;

beforeEach(async () => {
  hub = await inProcessHub({ clock: testClock(T0) });
  issuer = (await hub.call('POST', '/v1/api-tokens', { name: 'vendor', role: 'issuer' })).body.token;
});
afterEach(() => hub.close());

async function ok<T = any>(p: Promise<{ status: number; body: any }>, status = 200): Promise<T> {
  const r = await p;
  if (r.status !== status) throw new Error(`expected ${status}, got ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body;
}
async function issue(body: Record<string, unknown>, token = issuer) {
  return (await ok(hub.call('POST', '/v1/licences/issue', { orgId: 'org_default', ...body }, token), 201)).items as Array<{ code: string; serial: string }>;
}
async function enrol(name: string, opts: { token?: string; machineId?: string; cpus?: number } = {}) {
  const t = await ok(hub.call('POST', '/v1/agent-tokens', {}, opts.token ?? hub.adminToken), 201);
  const host = {
    name, hostname: `${name}.local`, machineId: opts.machineId ?? `m-${name}`, os: 'Linux', agentVersion: '0.1.0',
    addresses: ['127.0.0.1'], dataPort: 6325, filesystems: { '/data': 'ext4' }, certFingerprint: FP,
  };
  const r = await ok(hub.call('POST', '/v1/agent/enrol', { configToken: t.token, host }, null), 201);
  const fp = await hostFingerprint(host.machineId, host.hostname);
  const poll = (state: Record<string, unknown> = {}) => ok(hub.call('POST', '/v1/agent/poll', {
    agentTime: hub.clock.now(), agentVersion: '0.1.0', state: { licence: { hostFingerprint: fp, hostname: host.hostname, cpus: opts.cpus ?? 2, memoryMB: 4096 }, ...state },
  }, r.credential));
  await poll();
  return { id: r.serverId as string, credential: r.credential as string, fp, hostname: host.hostname, poll };
}
const inventory = async (token = hub.adminToken) => (await ok(hub.call('GET', '/v1/licences', undefined, token))).items as any[];
async function snapshot() {
  return JSON.stringify([await hub.deps.db.select().from(licences), await hub.deps.db.select().from(licenceAssignments)]);
}

describe('organizations and issuing', () => {
  it('only the vendor issuer creates orgs and codes; an org admin cannot mint codes for itself', async () => {
    const org = await ok(hub.call('POST', '/v1/orgs', { name: 'acme' }, issuer), 201);
    expect(org.adminToken).toMatch(/^tnd_api_/);
    const r = await hub.call('POST', '/v1/licences/issue', { orgId: org.id, type: 'single' }, org.adminToken);
    expect(r.body.error.code).toBe('issuer_only');
    // Even an issuer token created inside a customer org is refused.
    const sneaky = await ok(hub.call('POST', '/v1/api-tokens', { name: 'x', role: 'issuer' }, org.adminToken), 201);
    expect((await hub.call('POST', '/v1/licences/issue', { orgId: org.id, type: 'single' }, sneaky.token)).body.error.code).toBe('issuer_only');
    const codes = await issue({ orgId: org.id, type: 'single', edition: 'advanced', count: 3 });
    expect(codes).toHaveLength(3);
    expect(codes[0]!.code).toMatch(/^([0-9A-Z]{4}-){5}[0-9A-Z]{4}$/);
  });

  it('org A never sees org B\'s licences or servers, and cannot add or activate its codes', async () => {
    const b = await ok(hub.call('POST', '/v1/orgs', { name: 'beta-corp' }, issuer), 201);
    const [bCode] = await issue({ orgId: b.id, type: 'site' });
    const [aCode] = await issue({ type: 'single' });
    await ok(hub.call('POST', '/v1/licences', { codes: bCode!.code }, b.adminToken), 201);
    await ok(hub.call('POST', '/v1/licences', { codes: aCode!.code }), 201);
    const bServer = await enrol('b-web', { token: b.adminToken });
    await enrol('a-web');
    expect((await inventory()).map((r) => r.code)).toEqual([aCode!.code]);
    expect((await inventory(b.adminToken)).map((r) => r.code)).toEqual([bCode!.code]);
    expect((await ok(hub.call('GET', '/v1/servers'))).items.map((s: any) => s.name)).toEqual(['a-web']);
    expect((await ok(hub.call('GET', '/v1/servers', undefined, b.adminToken))).items.map((s: any) => s.name)).toEqual(['b-web']);
    const before = await snapshot();
    const steal = await hub.call('POST', '/v1/licences', { codes: bCode!.code });
    expect(steal).toMatchObject({ status: 403, body: { error: { code: 'licence_other_org' } } });
    expect((await hub.call('POST', `/v1/licences/${bCode!.code}/activate`, { server: 'a-web' })).body.error.code).toBe('licence_other_org');
    expect((await hub.call('POST', `/v1/licences/${aCode!.code}/activate`, { server: bServer.id })).body.error.code).toBe('not_found');
    expect(await snapshot()).toBe(before);
  });
});

describe('inventory', () => {
  it('adds several codes at once (commas and new lines, any case, with or without dashes) and lists them', async () => {
    const codes = (await issue({ type: 'single', count: 3 })).map((c) => c.code);
    const text = `${codes[0]!.toLowerCase()},\n${codes[1]!.replace(/-/g, '')}\n\n${codes[2]}`;
    const r = await ok(hub.call('POST', '/v1/licences', { codes: text }), 201);
    expect(r.added).toEqual(expect.arrayContaining([codes[0], codes[2]]));
    expect(r.added).toHaveLength(3);
    const rows = await inventory();
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatchObject({ state: 'available', health: 'ok', type: 'single', product: expect.any(String), typeDescription: 'Single server' });
  });

  it('refuses malformed, mistyped, forged and unknown codes with specific errors and adds nothing', async () => {
    const [good] = await issue({ type: 'single' });
    const typo = good!.code.replace(/^./, (ch) => (ch === 'A' ? 'B' : 'A'));
    const forged = formatCode(await makeLicenceCode({ type: 'site', edition: 'enterprise', requiresActivation: false, expiresAt: null, serial: randomSerial() }, 'not-the-hub'));
    const before = await snapshot();
    for (const [input, code] of [['ABCD-1234', 'code_malformed'], [typo, 'code_typo'], [forged, 'licence_code_forged']] as const) {
      const r = await hub.call('POST', '/v1/licences', { codes: `${good!.code}\n${input}` });
      expect(r.body.error.code, input).toBe(code);
      expect(r.body.error.message).toMatch(/Nothing was added/);
    }
    expect(await snapshot()).toBe(before);
    expect(await inventory()).toEqual([]);
  });

  it('exports and imports the inventory as a file, and removes only codes no server uses', async () => {
    const b = await ok(hub.call('POST', '/v1/orgs', { name: 'gamma' }, issuer), 201);
    const codes = (await issue({ orgId: b.id, type: 'single', count: 2 })).map((c) => c.code);
    await ok(hub.call('POST', '/v1/licences', { codes }, b.adminToken), 201);
    const file = await ok(hub.call('GET', '/v1/licences/export', undefined, b.adminToken));
    expect(file).toMatchObject({ kind: 'tandem-licence-inventory', licences: [{ code: codes[0] }, { code: codes[1] }] });
    for (const c of codes) await ok(hub.call('DELETE', `/v1/licences/${c}`, undefined, b.adminToken));
    expect(await inventory(b.adminToken)).toEqual([]);
    const imp = await ok(hub.call('POST', '/v1/licences/import', { file: JSON.stringify(file) }, b.adminToken));
    expect(imp.added).toHaveLength(2);
    expect(imp.needsActivation).toHaveLength(2);
    const s = await enrol('g1', { token: b.adminToken });
    await ok(hub.call('POST', `/v1/licences/${codes[0]}/apply`, { server: s.id }, b.adminToken));
    const rm = await hub.call('DELETE', `/v1/licences/${codes[0]}`, undefined, b.adminToken);
    expect(rm).toMatchObject({ status: 409, body: { error: { code: 'licence_in_use' } } });
  });
});

describe('activation', () => {
  it('a single licence warns for 14 days after being applied, then blocks jobs until activated online', async () => {
    const [c] = await issue({ type: 'single' });
    await ok(hub.call('POST', '/v1/licences', { codes: c!.code }), 201);
    const s = await enrol('web1');
    const t = await enrol('web2');
    const [d] = await issue({ type: 'single' });
    await ok(hub.call('POST', `/v1/licences/${d!.code}/activate`, { server: 'web2' }));
    const q = { sourceServerId: s.id, targetServerId: t.id, jobType: 'files' };
    expect((await licenceIssuesForJob(hub.deps, 'org_default', q)).map((i) => i.code)).toEqual(['licence_missing']);
    await ok(hub.call('POST', `/v1/licences/${c!.code}/apply`, { server: 'web1' }));
    hub.clock.advance(3 * DAY_MS);
    expect(await licenceIssuesForJob(hub.deps, 'org_default', q)).toEqual([
      expect.objectContaining({ severity: 'warning', code: 'licence_not_activated', message: expect.stringMatching(/11 days left/) }),
    ]);
    expect((await inventory()).find((r) => r.server?.name === 'web1')).toMatchObject({ health: 'warning', daysLeft: 11 });
    hub.clock.advance(11 * DAY_MS);
    expect((await licenceIssuesForJob(hub.deps, 'org_default', q)).map((i) => [i.severity, i.code])).toEqual([['error', 'licence_activation_overdue']]);
    const act = await ok(hub.call('POST', `/v1/licences/${c!.code}/activate`, { server: 'web1' }));
    expect(act).toMatchObject({ method: 'online', host: s.fp, transferred: false });
    const claims = await verifyLicenceFile(act.licenceFile, hub.deps.keys.publicJwks(), { now: hub.clock.now(), hostFingerprint: s.fp });
    expect(claims).toMatchObject({ type: 'single', host: s.fp, serverId: s.id });
    expect(await licenceIssuesForJob(hub.deps, 'org_default', q)).toEqual([]);
  });

  it('a job is refused by validation without a licence and allowed after activation', async () => {
    const s = await enrol('src');
    const t = await enrol('tgt');
    const job = { name: 'j1', source: 'src', target: 'tgt', rules: [{ path: '/data', type: 'include' }] };
    const before = await ok(hub.call('POST', '/v1/jobs/validate', job));
    expect(before.ok).toBe(false);
    expect(before.items.filter((i: any) => i.code === 'licence_missing')).toHaveLength(2);
    for (const name of ['src', 'tgt']) {
      const [c] = await issue({ type: 'single' });
      await ok(hub.call('POST', `/v1/licences/${c!.code}/activate`, { server: name }));
    }
    const after = await ok(hub.call('POST', '/v1/jobs/validate', job));
    expect(after.items.filter((i: any) => i.code.startsWith('licence_'))).toEqual([]);
    void s; void t;
  });

  it('failover, restore and failback are never blocked: an expired licence refuses new jobs but not failover', async () => {
    const [ev] = await issue({ type: 'evaluation', expiresAt: '2030-01-10' });
    await enrol('fsrc');
    await enrol('ftgt');
    for (const name of ['fsrc', 'ftgt']) await ok(hub.call('POST', `/v1/licences/${ev!.code}/apply`, { server: name }));
    const job = { name: 'protect', source: 'fsrc', target: 'ftgt', start: false, rules: [{ path: '/data', type: 'include' }] };
    const created = await ok(hub.call('POST', '/v1/jobs', job), 201);
    hub.clock.set(Date.UTC(2030, 0, 12));
    const refused = await hub.call('POST', '/v1/jobs', { ...job, name: 'another' });
    expect(refused.status).toBe(422);
    expect(refused.body.error.details.items.map((i: any) => i.code)).toContain('licence_expired');
    const failover = await hub.call('POST', `/v1/jobs/${created.id}/failover`, {});
    expect(failover.status).toBe(202);
    expect(failover.body.state).toBe('failing_over');
  });

  it('the online path from the agent itself, then a refresh returns a fresh signed file and the hub keys', async () => {
    const [c] = await issue({ type: 'single' });
    const s = await enrol('self');
    const act = await ok(hub.call('POST', '/v1/agent/licence/activate', { code: c!.code }, s.credential));
    expect(act.method).toBe('online');
    hub.clock.advance(25 * DAY_MS);
    const ref = await ok(hub.call('POST', '/v1/agent/licence/refresh', {}, s.credential));
    expect(ref.files).toHaveLength(1);
    const claims = await verifyLicenceFile(ref.files[0].licenceFile, ref.jwks, { now: hub.clock.now(), hostFingerprint: s.fp });
    expect(claims.exp * 1000).toBeGreaterThan(hub.clock.now() + 29 * DAY_MS);
  });

  it('portal path via the API: request code → 24-character key → the host claims its licence file', async () => {
    const [c] = await issue({ type: 'single' });
    const s = await enrol('keyhost');
    const requestCode = makeRequestCode(s.fp);
    const r = await ok(hub.call('POST', '/v1/licences/activation-key', { code: c!.code, requestCode: formatCode(requestCode) }));
    expect(r.activationKey.replace(/-/g, '')).toHaveLength(24);
    expect(r).toMatchObject({ method: 'key', serverId: s.id, host: s.fp });
    const claim = await ok(hub.call('POST', '/v1/agent/licence/claim', { key: r.activationKey, requestCode }, s.credential));
    expect((await verifyLicenceFile(claim.licenceFile, hub.deps.keys.publicJwks(), { now: hub.clock.now(), hostFingerprint: s.fp })).sub).toBe(c!.serial);
    // The request was used: replaying it is refused and changes nothing.
    const before = await snapshot();
    const replay = await hub.call('POST', '/v1/licences/activation-key', { code: c!.code, requestCode });
    expect(replay).toMatchObject({ status: 409, body: { error: { code: 'activation_request_replayed' } } });
    expect(await snapshot()).toBe(before);
    // A key for another host is refused by the hub as well.
    const other = await enrol('other');
    const bad = await hub.call('POST', '/v1/agent/licence/claim', { key: r.activationKey, requestCode: makeRequestCode(other.fp) }, other.credential);
    expect(bad.body.error.code).toBe('activation_key_wrong_host');
  });

  it('offline round-trip: a request file from a host the hub cannot reach becomes a signed licence file', async () => {
    const [c] = await issue({ type: 'single', edition: 'advanced' });
    const fp = await hostFingerprint('air-gapped-machine', 'vault01');
    const request = JSON.stringify({
      kind: 'tandem-activation-request', v: 1, requestCode: makeRequestCode(fp), hostname: 'vault01', serverId: null,
      agentVersion: '0.1.0', createdAt: new Date(hub.clock.now()).toISOString(), codes: [c!.code],
    });
    const r = await ok(hub.call('POST', '/v1/licences/activation-file', { request }));
    const claims = await verifyLicenceFile(r.licenceFile, hub.deps.keys.publicJwks(), { now: hub.clock.now(), hostFingerprint: fp });
    expect(claims).toMatchObject({ edition: 'advanced', hostname: 'vault01', host: fp });
    expect((await inventory())[0]).toMatchObject({ state: 'activated', hostname: 'vault01', activationMethod: 'file' });
    const replay = await hub.call('POST', '/v1/licences/activation-file', { request });
    expect(replay.body.error.code).toBe('activation_request_replayed');
    const old = JSON.stringify({ ...JSON.parse(request), requestCode: makeRequestCode(fp), createdAt: new Date(hub.clock.now() - 40 * DAY_MS).toISOString() });
    expect((await hub.call('POST', '/v1/licences/activation-file', { request: old })).body.error.code).toBe('activation_request_expired');
    expect((await hub.call('POST', '/v1/licences/activation-file', { request: '{"nope":1}' })).body.error.code).toBe('activation_request_malformed');
  });

  it('a code bound elsewhere needs a host transfer: two work, the third is refused and nothing changes', async () => {
    const [c] = await issue({ type: 'single' });
    const hosts = [await enrol('h1'), await enrol('h2'), await enrol('h3'), await enrol('h4')];
    await ok(hub.call('POST', `/v1/licences/${c!.code}/activate`, { server: 'h1' }));
    const refused = await hub.call('POST', `/v1/licences/${c!.code}/activate`, { server: 'h2' });
    expect(refused).toMatchObject({ status: 409, body: { error: { code: 'host_transfer_required', details: { transfersLeft: 2 } } } });
    const t1 = await ok(hub.call('POST', `/v1/licences/${c!.code}/activate`, { server: 'h2', transfer: true }));
    expect(t1).toMatchObject({ transferred: true, hostTransfersUsed: 1, serverId: hosts[1]!.id });
    const t2 = await ok(hub.call('POST', `/v1/licences/${c!.code}/activate`, { server: 'h3', transfer: true }));
    expect(t2.hostTransfersUsed).toBe(2);
    const before = await snapshot();
    const third = await hub.call('POST', `/v1/licences/${c!.code}/activate`, { server: 'h4', transfer: true });
    expect(third).toMatchObject({ status: 409, body: { error: { code: 'licence_transfer_limit' } } });
    expect(await snapshot()).toBe(before);
    const rows = await inventory();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ server: { name: 'h3' }, hostTransfersLeft: 0 });
    // The old host was told to drop its licence file.
    const cmds = await hub.call('POST', '/v1/agent/poll', { agentTime: hub.clock.now(), agentVersion: '0.1.0' }, hosts[0]!.credential);
    expect(cmds.body.commands.map((x: any) => x.kind)).toEqual(expect.arrayContaining(['licence.install', 'licence.remove']));
  });

  it('a renamed host reports a licence host mismatch until the licence is deactivated', async () => {
    const [c] = await issue({ type: 'single' });
    const s = await enrol('ren');
    const t = await enrol('ren-t');
    const [d] = await issue({ type: 'single' });
    await ok(hub.call('POST', `/v1/licences/${c!.code}/activate`, { server: 'ren' }));
    await ok(hub.call('POST', `/v1/licences/${d!.code}/activate`, { server: 'ren-t' }));
    await s.poll({ licence: { hostFingerprint: await hostFingerprint('m-ren', 'REN.local'), hostname: 'REN.local' } });
    const q = { sourceServerId: s.id, targetServerId: t.id, jobType: 'files' };
    expect((await licenceIssuesForJob(hub.deps, 'org_default', q)).map((i) => i.code)).toEqual(['licence_host_mismatch']);
    const swept = await runLicenceSweep(hub.deps);
    expect(swept.raised).toEqual([expect.stringMatching(/^licence\.host_mismatch:/)]);
    expect((await runLicenceSweep(hub.deps)).raised).toEqual([]);
  });

  it('bulk activation activates every applied licence of enrolled servers and is retryable', async () => {
    const cs = await issue({ type: 'single', count: 2 });
    await enrol('b1');
    await enrol('b2');
    await ok(hub.call('POST', `/v1/licences/${cs[0]!.code}/apply`, { server: 'b1' }));
    await ok(hub.call('POST', `/v1/licences/${cs[1]!.code}/apply`, { server: 'b2' }));
    const r = await ok(hub.call('POST', '/v1/licences/activate', {}));
    expect(r.items.map((i: any) => [i.server, i.ok]).sort()).toEqual([['b1', true], ['b2', true]]);
    expect((await inventory()).every((row) => row.state === 'activated')).toBe(true);
    expect((await ok(hub.call('POST', '/v1/licences/activate', {}))).items).toEqual([]);
  });

  it('removing a server with deactivate frees its licence for another host without using a transfer', async () => {
    const [c] = await issue({ type: 'single' });
    await enrol('old');
    await enrol('new');
    await ok(hub.call('POST', `/v1/licences/${c!.code}/activate`, { server: 'old' }));
    const del = await ok(hub.call('DELETE', '/v1/servers/old?deactivate=true'));
    expect(del.deactivatedLicences).toEqual([c!.code]);
    expect((await inventory())[0]).toMatchObject({ state: 'available' });
    const act = await ok(hub.call('POST', `/v1/licences/${c!.code}/activate`, { server: 'new' }));
    expect(act).toMatchObject({ transferred: false, hostTransfersUsed: 0 });
    // Deactivation is unlimited.
    for (let i = 0; i < 4; i++) {
      await ok(hub.call('POST', `/v1/licences/${c!.code}/deactivate`, { server: 'new' }));
      await ok(hub.call('POST', `/v1/licences/${c!.code}/activate`, { server: 'new' }));
    }
  });

  it('an evaluation code needs no activation, covers many servers (one row each) and is refused past its expiry', async () => {
    const [ev] = await issue({ type: 'evaluation', expiresAt: '2030-01-20' });
    await ok(hub.call('POST', '/v1/licences', { codes: ev!.code }), 201);
    const a = await enrol('e1');
    const b = await enrol('e2');
    await ok(hub.call('POST', `/v1/licences/${ev!.code}/apply`, { server: 'e1' }));
    await ok(hub.call('POST', `/v1/licences/${ev!.code}/apply`, { server: 'e2' }));
    const rows = await inventory();
    expect(rows.map((r) => r.server.name).sort()).toEqual(['e1', 'e2']);
    expect(rows[0]).toMatchObject({ health: 'warning', status: 'licence_expiring', typeDescription: 'Evaluation, expires 2030-01-21' });
    const q = { sourceServerId: a.id, targetServerId: b.id, jobType: 'files' };
    expect((await licenceIssuesForJob(hub.deps, 'org_default', q)).every((i) => i.severity === 'warning')).toBe(true);
    hub.clock.set(Date.UTC(2030, 0, 21, 0, 0, 1));
    expect((await licenceIssuesForJob(hub.deps, 'org_default', q)).map((i) => i.code)).toEqual(['licence_expired', 'licence_expired']);
    const c = await enrol('e3');
    const before = await snapshot();
    expect((await hub.call('POST', `/v1/licences/${ev!.code}/apply`, { server: c.id })).body.error.code).toBe('licence_expired');
    expect((await hub.call('POST', `/v1/licences/${ev!.code}/activate`, { server: c.id })).body.error.code).toBe('licence_expired');
    expect(await snapshot()).toBe(before);
  });
});

describe('enforcement', () => {
  it('job seats: each job takes one, stop keeps it, delete frees it, none left refuses creation', async () => {
    const [pool] = await issue({ type: 'job_seats', quantity: 2, jobTypes: ['files'] });
    await ok(hub.call('POST', '/v1/licences', { codes: pool!.code }), 201);
    expect(await claimJobSeat(hub.deps, 'org_default', 'job_1', 'files')).toEqual({ licence: pool!.serial });
    expect(await claimJobSeat(hub.deps, 'org_default', 'job_1', 'files')).toEqual({ licence: pool!.serial });
    await claimJobSeat(hub.deps, 'org_default', 'job_2', 'files');
    await expect(claimJobSeat(hub.deps, 'org_default', 'job_3', 'files')).rejects.toMatchObject({ code: 'licence_no_seats', status: 409 });
    expect(await claimJobSeat(hub.deps, 'org_default', 'job_4', 'full_server')).toBeNull();
    expect((await inventory())[0].typeDescription).toBe('Job seats: 2 of 2 used (files)');
    const s = await enrol('p1');
    const t = await enrol('p2');
    const issues = await licenceIssuesForJob(hub.deps, 'org_default', { sourceServerId: s.id, targetServerId: t.id, jobType: 'files' });
    expect(issues.map((i) => i.code)).toContain('licence_no_seats');
    expect(await releaseJobSeat(hub.deps, 'org_default', 'job_1')).toBe(true);
    expect(await releaseJobSeat(hub.deps, 'other_org', 'job_2')).toBe(false);
    expect(await claimJobSeat(hub.deps, 'org_default', 'job_3', 'files')).toEqual({ licence: pool!.serial });
    const rm = await hub.call('DELETE', `/v1/licences/${pool!.code}`);
    expect(rm.body.error.code).toBe('licence_in_use');
  });

  it('Foundation on a larger host may only be the target of a Foundation source', async () => {
    const small = await enrol('small', { cpus: 2 });
    const big = await enrol('big', { cpus: 32 });
    for (const [name, edition] of [['small', 'foundation'], ['big', 'foundation']] as const) {
      const [c] = await issue({ type: 'single', edition });
      await ok(hub.call('POST', `/v1/licences/${c!.code}/activate`, { server: name }));
    }
    const asTarget = await licenceIssuesForJob(hub.deps, 'org_default', { sourceServerId: small.id, targetServerId: big.id, jobType: 'full_server' });
    expect(asTarget).toEqual([]);
    const asSource = await licenceIssuesForJob(hub.deps, 'org_default', { sourceServerId: big.id, targetServerId: small.id, jobType: 'full_server' });
    expect(asSource.map((i) => i.code)).toEqual(['edition_role']);
    const files = await licenceIssuesForJob(hub.deps, 'org_default', { sourceServerId: small.id, targetServerId: big.id, jobType: 'files' });
    expect(files.map((i) => i.code)).toEqual(['edition_job_type']);
  });

  it('expiry events are raised once each at 30, 7 and 1 days, then expired', async () => {
    const [c] = await issue({ type: 'site', expiresAt: '2030-03-01', requiresActivation: false });
    await ok(hub.call('POST', '/v1/licences', { codes: c!.code }), 201);
    const exp = Date.UTC(2030, 2, 2);
    const at = async (ms: number) => { hub.clock.set(ms); return (await runLicenceSweep(hub.deps)).raised; };
    expect(await at(exp - 31 * DAY_MS)).toEqual([]);
    expect(await at(exp - 30 * DAY_MS)).toEqual([`licence.expiring:${c!.serial}:30`]);
    expect(await at(exp - 29 * DAY_MS)).toEqual([]);
    expect(await at(exp - 7 * DAY_MS)).toEqual([`licence.expiring:${c!.serial}:7`]);
    expect(await at(exp - DAY_MS)).toEqual([`licence.expiring:${c!.serial}:1`]);
    expect(await at(exp)).toEqual([`licence.expired:${c!.serial}`]);
    expect(await at(exp + DAY_MS)).toEqual([]);
    await hub.deps.events.flush();
    const ev = await ok(hub.call('GET', '/v1/events?type=licence.expiring,licence.expired&since=365d'));
    expect(ev.items.map((e: any) => e.type).sort()).toEqual(['licence.expired', 'licence.expiring', 'licence.expiring', 'licence.expiring']);
  });
});

