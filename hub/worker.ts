// The hub on Cloudflare Workers: D1 through drizzle's D1 driver, keys and admin token from secrets, no long polls.
import { drizzle } from 'drizzle-orm/d1';
import type { AnyD1Database } from 'drizzle-orm/d1';
import { createApp } from './app';
import * as schema from './db/schema';
import type { Db } from './db/types';
import { loadKeyStore, type KeyStore } from './keys';
import { createCommandWaker } from './commands/waker';
import { ensureDefaultOrg, ensureAdminTokenHash } from './bootstrap';
import { consoleLogger } from './log';
import { systemClock, type HubDeps } from './deps';
import { hashSecret, type SigningKeyMaterial } from '../shared/tokens';
import { createWorkerEvents, settleEvents, runScheduledEvents, type WorkerNotifyEnv } from './events/workers';
import { evaluateFailovers } from './failover/evaluate';
import { runLicenceSweep } from './licensing/sweep';
import { signingKeys } from './db/schema';
import { asc } from 'drizzle-orm';

export interface WorkerEnv extends WorkerNotifyEnv {
  DB: AnyD1Database;
  /** JSON SigningKeyMaterial; when unset the key is created in D1 on first use. */
  HUB_SIGNING_KEY?: string;
  /** An admin API token chosen by the operator (wrangler secret put TANDEM_ADMIN_TOKEN). */
  TANDEM_ADMIN_TOKEN?: string;
  TANDEM_PUBLIC_URL?: string;
}

let ready: Promise<{ db: Db; keys: KeyStore; since: number }> | undefined;

async function init(env: WorkerEnv) {
  // D1 implements the same async query builder and batch() the routes use; migrations are applied with
  // `wrangler d1 migrations apply` (wrangler.toml points migrations_dir at hub/db/migrations).
  const db = drizzle(env.DB as never, { schema }) as unknown as Db;
  const now = systemClock.now();
  await ensureDefaultOrg(db, now);
  if (env.TANDEM_ADMIN_TOKEN) await ensureAdminTokenHash(db, await hashSecret(env.TANDEM_ADMIN_TOKEN), now);
  const supplied = env.HUB_SIGNING_KEY ? (JSON.parse(env.HUB_SIGNING_KEY) as SigningKeyMaterial) : undefined;
  const keys = await loadKeyStore(db, now, supplied);
  // The hub's "uptime" for failover decisions: D1 keeps every poll, so the hub has watched since it was created.
  const [first] = await db.select({ at: signingKeys.createdAt }).from(signingKeys).orderBy(asc(signingKeys.createdAt)).limit(1);
  return { db, keys, since: first?.at ?? now };
}

async function buildDeps(env: WorkerEnv): Promise<HubDeps> {
  ready ??= init(env).catch((err) => {
    ready = undefined;
    throw err;
  });
  const { db, keys, since } = await ready;
  const log = consoleLogger({ svc: 'hub-worker' });
  const events = createWorkerEvents(env, db, systemClock, log);
  return {
    db, keys, clock: systemClock, waker: createCommandWaker(), log, events,
    // Workers cannot hold a request open cheaply: polls answer at once and agents poll again.
    config: { maxPollWaitSec: 0, maxBodyBytes: 1024 * 1024, startedAt: since, publicUrl: env.TANDEM_PUBLIC_URL },
  };
}

export default {
  async fetch(request: Request, env: WorkerEnv, ctx: unknown): Promise<Response> {
    const deps = await buildDeps(env);
    const res = await createApp(deps).fetch(request, env, ctx as never);
    // Events raised by this request are stored and sent after the response, within the request's lifetime.
    (ctx as { waitUntil?: (p: Promise<unknown>) => void } | undefined)?.waitUntil?.(settleEvents(deps.events));
    return res;
  },

  /** Cron trigger (every minute, see wrangler.toml): failover decisions, notification retries, hourly licence checks. */
  async scheduled(_event: unknown, env: WorkerEnv, ctx: unknown): Promise<void> {
    const deps = await buildDeps(env);
    const work = (async () => {
      await evaluateFailovers(deps);
      await runScheduledEvents(deps.events);
      if (new Date().getUTCMinutes() === 0) await runLicenceSweep(deps);
      await settleEvents(deps.events);
    })();
    (ctx as { waitUntil?: (p: Promise<unknown>) => void } | undefined)?.waitUntil?.(work);
    await work;
  },
};
