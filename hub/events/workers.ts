// `deps.events` on Cloudflare Workers: e-mail through the operator's HTTP relay (no SMTP sockets, no nodemailer),
// webhooks with fetch, multi-tenant target policy unless the operator says otherwise.
import type { Clock } from '../deps';
import type { Db } from '../db/types';
import type { Logger } from '../log';
import { createRelayEmailTransport } from '../notify/email-relay';
import { createEvents, type EventBus } from './index';

export interface WorkerNotifyEnv {
  /** HTTP relay that sends e-mail for the hub (see infra/README-notifications.md). */
  TANDEM_EMAIL_RELAY_URL?: string;
  TANDEM_EMAIL_RELAY_TOKEN?: string;
  /** "0" for a single-tenant Workers hub that may call private webhook targets. */
  TANDEM_MULTI_TENANT?: string;
  /** Comma-separated hosts or CIDRs webhooks may reach even when private. */
  TANDEM_WEBHOOK_ALLOW?: string;
  TANDEM_EVENT_RETENTION_DAYS?: string;
}

export function createWorkerEvents(env: WorkerNotifyEnv, db: Db, clock: Clock, log: Logger): EventBus {
  return createEvents({
    db, clock, log,
    email: env.TANDEM_EMAIL_RELAY_URL ? createRelayEmailTransport({ url: env.TANDEM_EMAIL_RELAY_URL, token: env.TANDEM_EMAIL_RELAY_TOKEN }) : null,
    policy: {
      multiTenant: env.TANDEM_MULTI_TENANT !== '0',
      allow: (env.TANDEM_WEBHOOK_ALLOW ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    },
    retentionDays: Number(env.TANDEM_EVENT_RETENTION_DAYS) || undefined,
  });
}

/**
 * What a Workers request hands to ctx.waitUntil: store the events it raised and finish the sends they started.
 * Retries come due later: a cron trigger (scheduled handler) should call `runScheduledEvents(events)` every minute.
 */
export function settleEvents(events: EventBus): Promise<void> {
  return events.flush().then(() => events.notify.settle());
}

/** For a Workers cron trigger: retention, the offline sweep, and deliveries whose retry time has come. */
export async function runScheduledEvents(events: EventBus): Promise<void> {
  await events.notify.maintain();
  await events.flush();
  await events.notify.runDue();
}
