// Builds `deps.events`: the event bus, its notifier (delivery loop) and the periodic retention and offline sweeps.
import type { Clock } from '../deps';
import type { Db } from '../db/types';
import type { Logger } from '../log';
import { createNotifier } from '../notify/notifier';
import { SELF_HOSTED_POLICY, type EmailTransport, type NotifyTimeouts, type TargetPolicy } from '../notify/types';
import { createEventBus, type EventBus } from './bus';
import { pruneEvents } from './store';
import { sweepOfflineAgents } from './agent-watch';

export type { EventBus } from './bus';

/** Events are kept this long unless configured otherwise. */
export const DEFAULT_RETENTION_DAYS = 30;

export function retentionCutoff(now: number, days: number): number {
  return now - days * 86_400_000;
}

export interface EventsOptions {
  db: Db;
  clock: Clock;
  log: Logger;
  /** nodemailer on Node, the HTTP relay on Workers, null when e-mail is not available. */
  email: EmailTransport | null;
  policy?: TargetPolicy;
  timeouts?: Partial<NotifyTimeouts>;
  fetch?: typeof fetch;
  retentionDays?: number;
  dedupWindowMs?: number;
  /** Retry jitter source in [0, 1); tests pass () => 0 for exact schedules. */
  jitter?: () => number;
}

export function createEvents(opts: EventsOptions): EventBus {
  let bus: EventBus | undefined;
  const notify = createNotifier({
    db: opts.db, clock: opts.clock, log: opts.log, email: opts.email, policy: opts.policy ?? SELF_HOSTED_POLICY,
    timeouts: opts.timeouts, fetch: opts.fetch, raise: (input) => bus?.raise(input), jitter: opts.jitter ?? (() => Math.random()),
  });
  bus = createEventBus({ db: opts.db, clock: opts.clock, log: opts.log, notify, dedupWindowMs: opts.dedupWindowMs });
  const days = opts.retentionDays ?? DEFAULT_RETENTION_DAYS;
  const events = bus;
  notify.addMaintenance(async () => {
    const pruned = await pruneEvents(opts.db, retentionCutoff(opts.clock.now(), days));
    if (pruned > 0) opts.log.info({ pruned, retentionDays: days }, 'old events pruned');
  });
  notify.addMaintenance(() => sweepOfflineAgents(opts.db, opts.clock.now(), events));
  return bus;
}
