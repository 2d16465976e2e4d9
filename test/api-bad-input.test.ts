// Every route of the hub, sent bad input, answers with a clear error and never a 500: malformed and mistyped bodies
// (every one-value mutation of a valid body), hostile path parameters, missing and wrong credentials.
// The routes come from the app itself, so a route added later is covered without touching this file.
import { describe, it, expect, beforeAll, afterAll, beforeEach } from 'vitest';
import { inProcessHub } from './support/in-process-hub';
import { JobReport } from '../shared/protocol/jobs';
import { mutations, HOSTILE_IN_REPORTS } from './support/mutations';

const FP = Array.from({ length: 32 }, () => 'AB').join(':');

let hub: Awaited<ReturnType<typeof inProcessHub>>;
const errors: string[] = [];
const creds: Record<string, string> = {};
const ids: Record<string, string> = {};

async function enrol(name: string): Promise<string> {
  const t = (await hub.call('POST', '/v1/agent-tokens', { maxUses: 1 })).body;
  const r = await hub.call('POST', '/v1/agent/enrol', { configToken: t.token, host: {
    name, hostname: name, machineId: `m-${name}`, os: 'Linux', agentVersion: '0.1.0', addresses: ['127.0.0.1'], dataPort: 7000,
    filesystems: {}, certFingerprint: FP } }, null);
  creds[name] = r.body.credential;
  return r.body.serverId as string;
}

const JOB = {
  name: 'web', source: 'alpha', target: 'beta', start: true,
  rules: [{ path: '/srv/www', type: 'include' }, { path: '/srv/www/cache/*.tmp', type: 'exclude', recursive: true }],
  pathMapping: { mode: 'custom', entries: [{ source: '/srv/www', target: '/replica/www' }] },
  mirror: { mode: 'different', newerOnly: false, blockChecksum: true, calculateSize: true },
  orphans: { action: 'move', moveTo: '/replica/orphans' },
  compression: 3,
  verify: { schedule: { cron: '0 3 * * *', timezone: 'UTC' }, mirrorDifferences: true, newerOnly: false, blockChecksum: true },
  replication: { batchMs: 50, lagThresholdSec: 60, rescanIntervalSec: 3600 },
  failoverMonitor: { mode: 'time', failoverTimeSec: 30, intervalSec: 5, method: 'service' },
  failover: { waitForUser: true, queueAction: 'apply' },
  snapshots: { enabled: true, schedule: { intervalMin: 60 }, keep: 10 },
  bandwidth: { mode: 'scheduled', schedule: [{ days: 'weekdays', start: '08:00', end: '18:00', bytesPerSec: 1_000_000 }] },
  transmitWindows: [{ days: 'everyday', start: '22:00', end: '06:00' }],
};

const NOW = Date.now();
/** What a source agent reports of a job: every part the hub reads, so mutations reach each. */
const SOURCE_REPORT = {
  jobId: 'JOB', role: 'source', epoch: 1, at: NOW, mirrorStatus: 'in_progress',
  mirror: { mirrorId: 'm1', filesTotal: 10, bytesTotal: 100, filesSent: 5, bytesSent: 50, filesSkipped: 0, bytesSkipped: 0,
    wireRawBytes: 50, wireCompressedBytes: 40, startedAt: NOW - 5000, completedAt: null, throughputBps: 10, orphansFound: 0, orphansRemoved: 0 },
  mirrorRequestId: null, mirrorComplete: false, replicationStatus: 'replicating', transmitMode: 'active',
  verify: { verifyId: 'v1', startedAt: NOW - 9000, completedAt: NOW - 8000, filesCompared: 3, identical: 2, different: 1, missingOnTarget: 0,
    orphansOnTarget: 0, paths: [{ path: '/srv/www/a', reason: 'size' }], truncated: false },
  connection: { id: 'c1', since: NOW - 6000, error: null }, warnings: [{ code: 'w', message: 'm' }],
  replication: { opsQueued: 3, bytesQueued: 300, lagMs: 40 },
  transmit: { limitBytesPerSec: 1_000_000, windowOpen: false, windowChangesAt: NOW + 60_000 },
  sourceSteps: [{ step: 'stop services', ok: true, detail: 'nginx stopped', durationMs: 12 }],
  fenced: null, lastError: null,
};
/** What the target agent reports: data state, probes of the source, snapshots, a failover in progress. */
const TARGET_REPORT = {
  jobId: 'JOB', role: 'target', epoch: 1, at: NOW, targetDataState: 'mirroring', refusedPaths: 2,
  replication: { queuedOps: 1, queueDiskBytes: 2 },
  probes: [{ at: NOW - 1000, method: 'service', target: 'alpha', ok: true }, { at: NOW, method: 'network', target: '127.0.0.1', ok: false }],
  snapshots: [{ id: 's1', takenAt: NOW - 3000, method: 'copy', bytes: 10, scheduled: true }],
  action: { id: 'a1', kind: 'failover', status: 'running', steps: [{ step: 'apply queue', ok: true, detail: 'done', durationMs: 5 }], startedAt: NOW - 100, completedAt: null },
};
const pollBody = (report: object) => ({
  // desiredVersion names no goal the hub has: a poll is answered at once instead of held.
  wait: 0, agentTime: NOW, agentVersion: '0.1.0', addresses: ['127.0.0.1'], dataPort: 7000, state: {}, jobs: [{ ...report, jobId: ids.job }], desiredVersion: 'stale',
});


/** A valid body for each route that takes one (the mutations start from it); others get `{}`. */
function template(method: string, path: string): unknown {
  const key = `${method} ${path}`;
  const bodies: Record<string, unknown> = {
    'POST /v1/jobs': { ...JOB, name: 'web2', pathMapping: { mode: 'custom', entries: [{ source: '/srv/www', target: '/replica/www2' }] } },
    'POST /v1/jobs/validate': JOB,
    'PATCH /v1/jobs/:id': { name: 'web', compression: 5, orphans: { moveTo: null, action: 'keep' }, verify: { schedule: null } },
    'POST /v1/jobs/:id/mirror': { action: 'start', mode: 'all' },
    'POST /v1/jobs/:id/verify': { mirrorDifferences: true, newerOnly: false, blockChecksum: true },
    'POST /v1/jobs/:id/bandwidth': { mode: 'fixed', bytesPerSec: 100_000 },
    'POST /v1/jobs/:id/failover': { queueAction: 'apply' },
    'POST /v1/jobs/:id/restore': { restoreData: true, to: 'alpha' },
    'POST /v1/jobs/:id/snapshots': {},
    'POST /v1/agent-tokens': { name: 'lab', expiresInSec: 3600, maxUses: 2, defaults: { pollWaitSec: 10, queue: { memoryMaxMB: 64, diskMaxMB: null } } },
    'POST /v1/api-tokens': { name: 'ops', role: 'monitor' },
    'PATCH /v1/servers/:id': { name: 'alpha', settings: { pollWaitSec: 5, addresses: ['127.0.0.1'] } },
    'POST /v1/servers/:id/commands': { kind: 'noop', payload: { a: 1 } },
    'POST /v1/webhooks': { url: 'http://127.0.0.1:9/hook', secret: 'whsec_' + Buffer.alloc(32, 7).toString('base64'), name: 'h', format: 'standard', filter: {} },
    'PATCH /v1/webhooks/:id': { url: 'http://127.0.0.1:9/other', name: null, format: 'slack', enabled: true },
    'PUT /v1/notifications/email': { enabled: false, host: '127.0.0.1', port: 2525, tls: 'none', from: 'hub@example.com', to: ['ops@example.com'] },
    'POST /v1/notifications/email/test': { to: ['ops@example.com'] },
    'POST /v1/orgs': { name: 'Acme' },
    'POST /v1/portal-users': { email: 'ops@example.com', password: 'correct horse battery', name: 'Ops' },
    'POST /v1/licences': { codes: ['AAAA-BBBB-CCCC-DDDD'] },
    'POST /v1/licences/import': { file: '{}' },
    'POST /v1/licences/issue': { orgId: 'default', type: 'evaluation', edition: 'standard', quantity: 1 },
    'POST /v1/licences/activate': { code: 'X', requestCode: 'Y' },
    'POST /v1/licences/activation-key': { code: 'X', requestCode: 'Y', transfer: false },
    'POST /v1/licences/activation-file': { request: 'x', transfer: false },
    'POST /v1/licences/:code/activate': { server: 'alpha', transfer: false },
    'POST /v1/licences/:code/apply': { server: 'alpha' },
    'POST /v1/licences/:code/deactivate': { server: 'alpha' },
    'POST /v1/licences/:code/reclaim': { server: 'alpha' },
    'POST /v1/agent/enrol': { configToken: 'x', host: { name: 'n', hostname: 'n', machineId: 'm', os: 'Linux', agentVersion: '0.1.0', addresses: [], dataPort: 7000, filesystems: {}, certFingerprint: FP } },
    'POST /v1/agent/poll': pollBody(SOURCE_REPORT),
    'POST /v1/agent/commands/:id/result': { ok: false, error: { code: 'x', message: 'y' } },
    'POST /v1/agent/licence/activate': { code: 'X', transfer: false },
    'POST /v1/agent/licence/claim': { key: 'X', requestCode: 'Y' },
    'POST /v1/agent/licence/refresh': {},
  };
  return bodies[key] ?? {};
}

/** The real value of a path parameter, so bodies reach the code behind the lookup. */
function realParam(path: string, name: string): string {
  if (name === 'sid') return 'snap-1';
  if (path.startsWith('/v1/jobs')) return ids.job!;
  if (path.startsWith('/v1/servers')) return ids.alpha!;
  if (path.startsWith('/v1/webhooks/deliveries')) return 'delivery-1';
  if (path.startsWith('/v1/webhooks')) return ids.webhook!;
  if (path.startsWith('/v1/agent-tokens')) return ids.agentToken!;
  if (path.startsWith('/v1/api-tokens')) return ids.apiToken!;
  if (path.startsWith('/v1/licences')) return ids.licence ?? 'NO-CODE';
  if (path.startsWith('/v1/agent/commands') || path.startsWith('/v1/commands')) return ids.command!;
  return 'x';
}

const HOSTILE_PARAMS = ['nope', '%00', 'a'.repeat(3000), '..%2F..%2Fetc', '%E2%82', '%25', 'x%20y', '💥'];

const fill = (path: string, value: (name: string) => string) => path.replace(/:([A-Za-z]+)/g, (_, n: string) => value(n));
const isAgentRoute = (path: string) => path.startsWith('/v1/agent/');

interface Sent { method: string; url: string; body?: unknown; token?: string | null; note: string }
const failures: string[] = [];
/** Requests answered 2xx in the current test: mutations that still reach the code behind validation. */
let accepted = 0;

async function send(s: Sent): Promise<number> {
  const before = errors.length;
  const r = await hub.call(s.method, s.url, s.body, s.token === undefined ? hub.adminToken : s.token);
  if (r.status < 300) accepted++;
  const what = `${s.method} ${s.url.slice(0, 120)} (${s.note}) body=${JSON.stringify(s.body)?.slice(0, 200)}`;
  if (r.status >= 500 || errors.length > before) {
    failures.push(`${what} → ${r.status} ${JSON.stringify(r.body).slice(0, 300)} ${errors.slice(before).join(' ').slice(0, 600)}`);
  } else if (r.status >= 400 && s.url.startsWith('/v1/')) {
    const e = r.body?.error;
    if (typeof e?.code !== 'string' || typeof e?.message !== 'string' || !e.message) {
      failures.push(`${what} → ${r.status} without {"error": {code, message}}: ${JSON.stringify(r.body).slice(0, 300)}`);
    }
  }
  return r.status;
}

beforeAll(async () => {
  hub = await inProcessHub({ trial: true });
  const log = hub.deps.log;
  hub.deps.log = { ...log, error: (obj: unknown, msg?: string) => { errors.push(`${msg ?? ''} ${JSON.stringify(obj)}`); } };
  ids.alpha = await enrol('alpha');
  ids.beta = await enrol('beta');
  const job = await hub.call('POST', '/v1/jobs', JOB);
  expect(job.status).toBe(201);
  ids.job = job.body.id;
  ids.webhook = (await hub.call('POST', '/v1/webhooks', template('POST', '/v1/webhooks'))).body.id;
  ids.agentToken = (await hub.call('POST', '/v1/agent-tokens', {})).body.id;
  ids.apiToken = (await hub.call('POST', '/v1/api-tokens', { name: 'reader' })).body.id;
  ids.command = (await hub.call('POST', `/v1/servers/${ids.alpha}/commands`, { kind: 'noop' })).body.id;
  const licences = (await hub.call('GET', '/v1/licences')).body;
  ids.licence = licences?.items?.[0]?.code;
  expect(ids.webhook && ids.agentToken && ids.apiToken && ids.command).toBeTruthy();
});
afterAll(() => hub?.close());
beforeEach(() => { failures.length = 0; accepted = 0; });

/** The app's own routes: middleware entries (ALL) left out; deletions last, so the rest still finds what they delete. */
function routes(): { method: string; path: string }[] {
  const seen = new Set<string>();
  const out: { method: string; path: string }[] = [];
  for (const r of hub.app.routes) {
    const key = `${r.method} ${r.path}`;
    if (r.method === 'ALL' || seen.has(key)) continue;
    seen.add(key);
    out.push({ method: r.method, path: r.path });
  }
  return out.sort((a, b) => Number(a.method === 'DELETE') - Number(b.method === 'DELETE'));
}

describe('bad input on every hub route', () => {
  it('finds the routes to try', () => {
    const list = routes().map((r) => `${r.method} ${r.path}`);
    expect(list.length).toBeGreaterThan(80);
    expect(list).toContain('POST /v1/jobs');
    expect(list).toContain('POST /v1/agent/poll');
    // The poll's job report is a valid one, so its mutations reach the hub's report handling, not just the schema.
    for (const r of [SOURCE_REPORT, TARGET_REPORT]) expect(JobReport.safeParse({ ...r, jobId: ids.job }).error?.issues).toBeUndefined();
  });

  it('hostile path parameters, missing and wrong credentials: 4xx with a JSON error, never a 500', async () => {
    for (const { method, path } of routes()) {
      const body = method === 'GET' || method === 'DELETE' ? undefined : template(method, path);
      if (path.includes(':')) {
        for (const p of HOSTILE_PARAMS) await send({ method, url: fill(path, () => p), body, token: isAgentRoute(path) ? creds.alpha : undefined, note: `param ${p.slice(0, 20)}` });
      }
      if (method === 'DELETE') continue; // deleting for real comes last, below
      const url = fill(path, (n) => realParam(path, n));
      for (const token of [null, 'garbage', 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2ln', isAgentRoute(path) ? hub.adminToken : creds.beta!]) {
        const status = await send({ method, url, body, token, note: `token ${String(token).slice(0, 12)}` });
        if (path.startsWith('/v1/') && !['/v1/health', '/v1/openapi.json', '/.well-known/jwks.json', '/v1/agent/enrol', '/v1/events/catalog'].includes(path)) {
          expect([401, 403, 404], `${method} ${path} with token ${String(token).slice(0, 12)}`).toContain(status);
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it('raw bodies that are not the JSON object a route wants: 4xx, never a 500', async () => {
    const raws = ['not json', '', 'null', '[]', '"text"', '42', '{', '{"a":1}{"b":2}', '['.repeat(5000) + ']'.repeat(5000), '{"name":"\\ud800"}'];
    for (const { method, path } of routes()) {
      if (method === 'GET' || method === 'DELETE') continue;
      const url = fill(path, (n) => realParam(path, n));
      const token = isAgentRoute(path) ? creds.alpha : undefined;
      for (const raw of raws) await send({ method, url, body: raw, token, note: 'raw' });
      // The right JSON in the wrong content type.
      const r = await hub.app.request(url, { method, headers: { 'content-type': 'text/plain', authorization: `Bearer ${token ?? hub.adminToken}` }, body: JSON.stringify(template(method, path)) });
      expect(r.status, `${method} ${path} as text/plain`).not.toBe(500);
    }
    expect(failures).toEqual([]);
  });

  it('every one-value mutation of a valid body, on every route: a clear error or a success, never a 500', async () => {
    for (const { method, path } of routes()) {
      if (method === 'GET' || method === 'DELETE') continue;
      const url = fill(path, (n) => realParam(path, n));
      const token = isAgentRoute(path) ? creds.alpha : undefined;
      let n = 0;
      for (const body of mutations(template(method, path))) await send({ method, url, body, token, note: `mutation ${n++}` });
    }
    // The hub still answers its ordinary questions, and nothing leaked onto Object.prototype.
    expect((await hub.call('GET', `/v1/jobs/${ids.job}`)).status).toBe(200);
    expect(({} as any).polluted).toBeUndefined();
    expect(failures).toEqual([]);
    expect(accepted, 'mutated bodies that passed validation').toBeGreaterThan(100);
  });

  it('job reports with one value mutated, from the source and from the target: the job\'s views still render', async () => {
    const views = [`/v1/jobs/${ids.job}`, '/v1/jobs', `/v1/jobs/${ids.job}/snapshots`, `/v1/jobs/${ids.job}/verify`];
    for (const [agent, report] of [['alpha', SOURCE_REPORT], ['beta', TARGET_REPORT]] as const) {
      let n = 0;
      for (const body of mutations(pollBody(report), HOSTILE_IN_REPORTS)) {
        const note = `${agent}'s poll, mutation ${n++}`;
        await send({ method: 'POST', url: '/v1/agent/poll', body, token: creds[agent], note });
        // A report the hub accepted is what the job's views are made of next.
        for (const view of views) {
          const status = await send({ method: 'GET', url: view, note: `after ${note}` });
          if (status !== 200) failures.push(`GET ${view} answered ${status} after ${note}: ${JSON.stringify(body).slice(0, 300)}`);
        }
      }
    }
    expect(failures).toEqual([]);
    expect(accepted).toBeGreaterThan(500);
  });

  it('an agent\'s reported host state with one value mutated: job validation and the server views still answer', async () => {
    const state = { name: 'beta', uptimeSec: 5, filesystems: [{ mount: '/', type: 'ext4', freeBytes: 1e6, totalBytes: 1e9 }, { mount: '/replica', type: 'xfs', freeBytes: 5e9, totalBytes: 1e10 }] };
    let n = 0;
    for (const body of mutations({ ...pollBody(TARGET_REPORT), jobs: [], state }, HOSTILE_IN_REPORTS)) {
      const note = `beta's poll state, mutation ${n++}`;
      await send({ method: 'POST', url: '/v1/agent/poll', body, token: creds.beta, note });
      for (const [method, url, req] of [['POST', '/v1/jobs/validate', { ...JOB, name: 'web3' }], ['GET', '/v1/servers', undefined], ['GET', `/v1/servers/${ids.beta}`, undefined]] as const) {
        const status = await send({ method, url, body: req, note: `after ${note}` });
        if (status !== 200) failures.push(`${method} ${url} answered ${status} after ${note}: ${JSON.stringify(body).slice(0, 300)}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('query strings with hostile values on every GET: 4xx, never a 500', async () => {
    const queries = ['limit=-1', 'limit=abc', 'limit=99999999999999999999', 'since=yesterday', 'since=%00', 'severity=loud', 'job=' + 'x'.repeat(3000),
      'type=%E2%82', 'watch=1&watch=2', 'server[]=1', 'state=bogus', 'offset=-5', 'page=NaN'];
    for (const { method, path } of routes()) {
      if (method !== 'GET') continue;
      const url = fill(path, (n) => realParam(path, n));
      for (const q of queries) await send({ method, url: `${url}?${q}`, token: isAgentRoute(path) ? creds.alpha : undefined, note: 'query' });
    }
    expect(failures).toEqual([]);
  });

  it('portal forms, signed in, with hostile fields, duplicate fields and uploads: a page or a refusal, never a 500', async () => {
    const org = (await hub.call('GET', '/v1/orgs')).body?.items?.[0]?.id ?? 'org_default';
    const user = await hub.call('POST', '/v1/portal-users', { email: 'fuzz@example.com', password: 'a long password', orgId: org });
    expect(user.status, JSON.stringify(user.body)).toBe(201);
    const jar = new Map<string, string>();
    const browse = async (method: string, url: string, body?: URLSearchParams | FormData) => {
      const res = await hub.app.request(url, { method, body, headers: { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') } });
      for (const c of res.headers.getSetCookie()) { const [k, ...v] = c.split(';')[0]!.split('='); jar.set(k!, v.join('=')); }
      return { status: res.status, text: await res.text() };
    };
    const csrfOf = (html: string) => html.match(/name="_csrf" value="([^"]+)"/)?.[1] ?? '';
    const login = await browse('GET', '/portal/login');
    const signedIn = await browse('POST', '/portal/login', new URLSearchParams({ _csrf: csrfOf(login.text), email: 'fuzz@example.com', password: 'a long password' }));
    expect(signedIn.status).toBe(303);
    const csrf = csrfOf((await browse('GET', '/portal/activate')).text);
    expect(csrf).not.toBe('');
    const fields = ['assignment', 'back', 'code', 'codes', 'requestCode', 'transfer'];
    const values = ['', 'x'.repeat(100_000), 'a\u0000b', '💥ü\u202e', '../../etc/passwd', "'; DROP TABLE licences; --", 'AAAA-BBBB-CCCC-DDDD', '1', 'hosts'];
    for (const { method, path } of routes()) {
      if (method !== 'POST' || !path.startsWith('/portal/') || path === '/portal/login' || path === '/portal/logout') continue;
      const sendForm = async (body: URLSearchParams | FormData, note: string) => {
        const before = errors.length;
        const r = await browse('POST', path, body);
        if (r.status === 403) failures.push(`POST ${path} (${note}) was refused by the CSRF check: the form never reached the page`);
        if (r.status >= 500 || errors.length > before) failures.push(`POST ${path} (${note}) → ${r.status} ${r.text.slice(0, 200)} ${errors.slice(before).join(' ').slice(0, 400)}`);
      };
      await sendForm(new URLSearchParams({ _csrf: csrf }), 'empty');
      for (const f of fields) for (const v of values) await sendForm(new URLSearchParams({ _csrf: csrf, [f]: v }), `${f}=${v.slice(0, 20)}`);
      await sendForm(new URLSearchParams([['_csrf', csrf], ['code', 'A'], ['code', 'B'], ['codes', 'x'], ['codes', 'y']]), 'duplicate fields');
      const upload = new FormData();
      upload.set('_csrf', csrf);
      upload.set('request', new File([Buffer.alloc(2000, 0xff)], 'request.bin'));
      upload.set('code', new File(['not a code'], 'code.txt'));
      await sendForm(upload, 'files where text is expected, binary junk as the request');
    }
    await browse('POST', '/portal/logout', new URLSearchParams({ _csrf: csrf }));
    expect(failures).toEqual([]);
  });

  it('deletions with mutated bodies and real ids: a clear answer, never a 500', async () => {
    for (const { method, path } of routes()) {
      if (method !== 'DELETE') continue;
      const url = fill(path, (n) => realParam(path, n));
      await send({ method, url, body: { junk: [1, 2, 3] }, note: 'delete with a body' });
      await send({ method, url, note: 'delete' });
      await send({ method, url, note: 'delete again' });
    }
    expect(failures).toEqual([]);
  });
});
