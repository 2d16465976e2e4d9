// A real hub app over a real libSQL file in a temp dir, driven in-process (no socket) with a controllable clock.
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createApp } from '../../hub/app';
import { openLibsqlDb } from '../../hub/db/open-libsql';
import { loadKeyStore } from '../../hub/keys';
import { createCommandWaker } from '../../hub/commands/waker';
import { ensureAdminToken, ensureDefaultOrg, DEFAULT_ORG } from '../../hub/bootstrap';
import { ensureTrialLicence } from '../../hub/licensing/trial';
import { silentLogger } from '../../hub/log';
import type { HubDeps } from '../../hub/deps';
import { scryptHasher } from '../../hub/portal/password-node';
import { createEvents, type EventsOptions } from '../../hub/events';

export interface TestClock {
  now(): number;
  advance(ms: number): void;
  set(ms: number): void;
}

export function testClock(start = Date.now()): TestClock {
  let t = start;
  return { now: () => t, advance: (ms) => { t += ms; }, set: (ms) => { t = ms; } };
}

/** `trial`: give the default org the evaluation licence a Node hub creates on first start (off by default). */
export async function inProcessHub(opts: { clock?: TestClock; events?: Partial<EventsOptions>; trial?: boolean } = {}) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tandem-hub-'));
  const clock = opts.clock ?? testClock();
  const { db, close } = await openLibsqlDb({ url: `file:${path.join(dir, 'hub.db')}` });
  await ensureDefaultOrg(db, clock.now());
  const keys = await loadKeyStore(db, clock.now());
  const adminToken = (await ensureAdminToken(db, clock.now()))!;
  // No e-mail transport unless a test injects one; retries come due when a test advances the clock and calls events.notify.runDue().
  const events = createEvents({ db, clock, log: silentLogger, email: null, ...opts.events });
  const deps: HubDeps = {
    db, clock, keys, waker: createCommandWaker(), log: silentLogger, events,
    // Cheap scrypt parameters keep portal sign-in tests fast; production uses N=2^15.
    passwordHasher: scryptHasher({ N: 1024, r: 8, p: 1 }),
    config: { maxPollWaitSec: 25, maxBodyBytes: 1024 * 1024, startedAt: clock.now(), publicUrl: 'http://hub.test' },
  };
  if (opts.trial) await ensureTrialLicence(deps, DEFAULT_ORG, 30);
  const app = createApp(deps);
  /** Calls the app like an HTTP client would. */
  async function call(method: string, url: string, body?: unknown, token: string | null = adminToken, headers: Record<string, string> = {}) {
    const res = await app.request(url, {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let json: any;
    try { json = JSON.parse(text); } catch { json = text; }
    return { status: res.status, body: json };
  }
  return { app, deps, clock, adminToken, call, dir, close };
}
