// The hub's Workers build: bundled with esbuild like wrangler does, run in miniflare with a D1 database.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const ADMIN = 'tnd_api_worker_test_admin_token_0123456789';
let mf: Miniflare;

/** Applies hub/db/migrations in order, as `wrangler d1 migrations apply` does. */
async function applyMigrations(db: { exec(sql: string): Promise<unknown>; prepare(sql: string): { run(): Promise<unknown> } }) {
  const dir = path.join(root, 'hub/db/migrations');
  const journal = JSON.parse(await readFile(path.join(dir, 'meta/_journal.json'), 'utf8')) as { entries: { tag: string }[] };
  for (const { tag } of journal.entries) {
    const sql = await readFile(path.join(dir, `${tag}.sql`), 'utf8');
    for (const stmt of sql.split('--> statement-breakpoint').map((s) => s.trim()).filter(Boolean)) {
      await db.prepare(stmt).run();
    }
  }
}

beforeAll(async () => {
  const bundle = await build({
    entryPoints: [path.join(root, 'hub/worker.ts')], bundle: true, format: 'esm', platform: 'browser',
    conditions: ['workerd', 'worker', 'browser'], write: false, target: 'es2022', jsx: 'automatic', jsxImportSource: 'hono/jsx',
    external: ['node:*', 'cloudflare:*'],
  });
  expect((await readdir(path.join(root, 'hub/db/migrations'))).some((f) => f.endsWith('.sql'))).toBe(true);
  mf = new Miniflare({
    modules: true,
    script: bundle.outputFiles[0]!.text,
    compatibilityDate: '2025-07-01',
    compatibilityFlags: ['nodejs_compat'],
    d1Databases: ['DB'],
    bindings: { TANDEM_ADMIN_TOKEN: ADMIN },
  });
  await applyMigrations((await mf.getD1Database('DB')) as never);
}, 120_000);

afterAll(async () => { await mf?.dispose(); });

describe('hub on Workers (miniflare + D1)', () => {
  it('the cron trigger runs failover decisions, notification retries and licence checks without error', async () => {
    const worker = await mf.getWorker();
    const result = await (worker as unknown as { scheduled(o: { cron: string; scheduledTime: Date }): Promise<{ outcome: string }> }).scheduled({ cron: '* * * * *', scheduledTime: new Date() });
    expect(result.outcome).toBe('ok');
  });

  it('serves /v1/health', async () => {
    const res = await mf.dispatchFetch('http://hub.test/v1/health');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true });
  });

  it('an authenticated route works with the admin token from the secret, and refuses without it', async () => {
    const created = await mf.dispatchFetch('http://hub.test/v1/agent-tokens', {
      method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'w' }),
    });
    expect(created.status).toBe(201);
    const body = (await created.json()) as { token: string };
    expect(body.token.split('.')).toHaveLength(3);
    const list = await mf.dispatchFetch('http://hub.test/v1/agent-tokens', { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(((await list.json()) as { items: unknown[] }).items).toHaveLength(1);
    const denied = await mf.dispatchFetch('http://hub.test/v1/agent-tokens', { headers: { authorization: 'Bearer nope' } });
    expect(denied.status).toBe(401);
  });

  it('answers an agent\'s poll at once and says so (waitSec 0), so the agent polls every few seconds instead of at once', async () => {
    const post = (p: string, body: unknown, token = ADMIN) => mf.dispatchFetch(`http://hub.test${p}`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    const { token } = (await (await post('/v1/agent-tokens', { name: 'poller' })).json()) as { token: string };
    const host = { name: 'w1', hostname: 'w1.local', machineId: 'm-w1', os: 'Linux', agentVersion: '0.1.0', addresses: ['127.0.0.1'], dataPort: 6325, filesystems: { '/data': 'ext4' }, certFingerprint: Array.from({ length: 32 }, () => 'AB').join(':') };
    const enrolled = await mf.dispatchFetch('http://hub.test/v1/agent/enrol', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ configToken: token, host }) });
    expect(enrolled.status).toBe(201);
    const { credential } = (await enrolled.json()) as { credential: string };
    const poll = await post('/v1/agent/poll', { wait: 20, agentTime: Date.now(), agentVersion: '0.1.0' }, credential);
    expect(poll.status).toBe(200);
    expect(await poll.json()).toMatchObject({ waitSec: 0, commands: [] });
  });
});
