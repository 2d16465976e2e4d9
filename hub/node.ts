// The hub on Node: embedded libSQL file (or remote libSQL), pino logs, long polls, admin token on first start.
import { serve, type ServerType } from '@hono/node-server';
import { mkdir, writeFile, chmod } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { createApp } from './app';
import { startFailoverLoop } from './failover/evaluate';
import { openLibsqlDb } from './db/open-libsql';
import { loadKeyStore } from './keys';
import { createCommandWaker } from './commands/waker';
import { ensureAdminToken, ensureDefaultOrg, DEFAULT_ORG } from './bootstrap';
import { ensureTrialLicence } from './licensing/trial';
import { systemClock, type HubDeps } from './deps';
import type { Logger } from './log';
import { scryptHasher } from './portal/password-node';
import { startLicenceSweep } from './licensing/sweep';
import { createEvents } from './events';
import { createSmtpTransport } from './notify/email-smtp';
import type { TargetPolicy } from './notify/types';

export interface HubOptions {
  port: number;
  host: string;
  dataDir: string;
  db?: string;
  dbAuthToken?: string;
  publicUrl?: string;
  logLevel?: string;
  /** Days of the evaluation licence created for the default org on first start (0: none). Env TANDEM_TRIAL_DAYS, default 30. */
  trialDays?: number;
  /** Print the banner (URL, admin token) to stdout. */
  banner?: boolean;
  /** Webhook target policy; default self-hosted (loopback and private targets allowed). Env: TANDEM_MULTI_TENANT=1, TANDEM_WEBHOOK_ALLOW=cidr,host. */
  notifyPolicy?: TargetPolicy;
  /** Days events are kept (env TANDEM_EVENT_RETENTION_DAYS, default 30). */
  eventRetentionDays?: number;
}

export interface RunningHub {
  url: string;
  port: number;
  deps: HubDeps;
  close(): Promise<void>;
}

export async function startHub(opts: HubOptions): Promise<RunningHub> {
  const dataDir = path.resolve(opts.dataDir);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const log: Logger = pino({ level: opts.logLevel ?? 'info', base: { svc: 'hub' } });
  const dbUrl = opts.db ?? `file:${path.join(dataDir, 'hub.db')}`;
  const { db, close: closeDb } = await openLibsqlDb({ url: dbUrl, authToken: opts.dbAuthToken });
  const clock = systemClock;
  const now = clock.now();
  await ensureDefaultOrg(db, now);
  const keys = await loadKeyStore(db, now);
  const adminToken = await ensureAdminToken(db, now);
  const tokenFile = path.join(dataDir, 'admin.token');
  if (adminToken) {
    await writeFile(tokenFile, adminToken + '\n', { mode: 0o600 });
    await chmod(tokenFile, 0o600);
  }
  const events = createEvents({
    db, clock, log, email: createSmtpTransport(),
    policy: opts.notifyPolicy ?? {
      multiTenant: process.env.TANDEM_MULTI_TENANT === '1',
      allow: (process.env.TANDEM_WEBHOOK_ALLOW ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    },
    retentionDays: opts.eventRetentionDays ?? (Number(process.env.TANDEM_EVENT_RETENTION_DAYS) || undefined),
  });
  events.notify.start();
  const deps: HubDeps = {
    db, clock, keys, log, waker: createCommandWaker(), events, passwordHasher: scryptHasher(),
    config: { publicUrl: opts.publicUrl, maxPollWaitSec: 25, maxBodyBytes: 1024 * 1024, startedAt: now },
  };
  await ensureTrialLicence(deps, DEFAULT_ORG, opts.trialDays ?? Number(process.env.TANDEM_TRIAL_DAYS ?? 30));
  const app = createApp(deps);
  const stopLicenceSweep = startLicenceSweep(deps);
  const stopFailoverLoop = startFailoverLoop(deps);
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port: opts.port, hostname: opts.host }, () => resolve(s));
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  const shownHost = opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host;
  const url = `http://${shownHost}:${port}`;
  if (opts.banner) {
    const lines = [
      `Tandem hub listening on ${url}` + (opts.host === '0.0.0.0' ? ` (all interfaces; agents on other hosts use http://${hostname()}:${port})` : ''),
      `Database: ${dbUrl.startsWith('file:') ? dbUrl : dbUrl.replace(/\/\/.*@/, '//***@')}`,
      adminToken
        ? `Admin API token (shown once, also saved to ${tokenFile}):\n  ${adminToken}`
        : `Admin API token: in ${tokenFile} (created at first start)`,
      `Next: tandem token create --name web-1   (a config token to paste on a host)`,
    ];
    process.stdout.write(lines.join('\n') + '\n');
  }
  return {
    url, port, deps,
    close: () => new Promise<void>((resolve) => {
      stopLicenceSweep();
      stopFailoverLoop();
      server.close(() => { void events.notify.stop().then(() => events.flush()).finally(() => { closeDb(); resolve(); }); });
      // Long polls hold connections open; end them so close() does not wait 25 s.
      (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
    }),
  };
}
