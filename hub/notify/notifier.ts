// The delivery loop: claims due rows of the delivery queue and sends them (e-mail, webhooks) in the background.
// Each send runs on its own with a timeout, so a hanging SMTP server delays only its own message.
import { and, eq, lt, lte, or } from 'drizzle-orm';
import type { RaiseInput } from '../../shared/events/types';
import type { Clock } from '../deps';
import type { Db } from '../db/types';
import type { Logger } from '../log';
import { events, emailSettings, webhookEndpoints, notificationDeliveries, notificationAttempts } from '../db/schema';
import { randomId } from '../../shared/tokens';
import { eventView } from '../events/store';
import { emailContent, webhookBody } from './payloads';
import { classifyResponse, nextRetryDelay, parseRetryAfter } from './retry';
import { webhookHeaders } from '../../shared/events/webhook-signing';
import { checkWebhookUrl } from './targets';
import { DEFAULT_TIMEOUTS, type EmailTransport, type NotifyTimeouts, type TargetPolicy } from './types';

export interface AttemptOutcome {
  deliveryId: string;
  ok: boolean;
  statusCode: number | null;
  error: string | null;
  /** Final state of the delivery after this attempt. */
  status: 'succeeded' | 'pending' | 'failed';
  nextAttemptAt: number | null;
}

export interface Notifier {
  readonly email: EmailTransport | null;
  readonly policy: TargetPolicy;
  readonly timeouts: NotifyTimeouts;
  /** Starts due deliveries soon; returns at once. */
  kick(): void;
  /** Starts every due delivery and waits until nothing is in flight (tests, Workers cron). */
  runDue(): Promise<void>;
  /** Waits for the tick and sends already started (Workers: after the response), without starting new ones. */
  settle(): Promise<void>;
  /** Attempts one delivery now and reports the outcome (test actions). */
  deliverNow(deliveryId: string): Promise<AttemptOutcome | null>;
  /** Periodic loop on Node: due deliveries every `intervalMs`, maintenance tasks every minute. */
  start(intervalMs?: number): void;
  stop(): Promise<void>;
  /** Jobs run by the loop besides deliveries (retention, offline sweep); each must be quick and not throw. */
  addMaintenance(task: () => Promise<void>): void;
  /** Runs the maintenance tasks once (Node's loop does it every minute; a Workers cron trigger calls it). */
  maintain(): Promise<void>;
}

export interface NotifierOptions {
  db: Db;
  clock: Clock;
  log: Logger;
  email: EmailTransport | null;
  policy: TargetPolicy;
  timeouts?: Partial<NotifyTimeouts>;
  fetch?: typeof fetch;
  /** How the notifier reports its own failures (endpoint disabled, e-mail failing); wired to the event bus. */
  raise: (input: RaiseInput) => void;
  maxInFlight?: number;
  /** Sends in flight per target (one org's SMTP server, one webhook endpoint), so a stuck target cannot take every slot. */
  maxPerTarget?: number;
  jitter?: () => number;
}

/** Deliveries to the same SMTP settings or endpoint share a target; each target gets only a few concurrent sends. */
export function deliveryTarget(d: { channel: string; orgId: string; endpointId: string | null }): string {
  return d.channel === 'email' ? `email:${d.orgId}` : `webhook:${d.endpointId}`;
}

const LEASE_EXTRA_MS = 60_000;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms); });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

export function createNotifier(opts: NotifierOptions): Notifier {
  const { db, clock, log } = opts;
  const timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
  const doFetch = opts.fetch ?? ((...a: Parameters<typeof fetch>) => fetch(...a));
  const maxInFlight = opts.maxInFlight ?? 32;
  const maxPerTarget = opts.maxPerTarget ?? 2;
  const perTarget = new Map<string, number>();
  const jitter = opts.jitter ?? (() => 0);
  const leaseMs = Math.max(timeouts.webhookMs, timeouts.smtpMs) * 2 + LEASE_EXTRA_MS;
  const inFlight = new Map<string, Promise<AttemptOutcome | null>>();
  const maintenance: Array<() => Promise<void>> = [];
  let timer: ReturnType<typeof setInterval> | undefined;
  let maintTimer: ReturnType<typeof setInterval> | undefined;
  let ticking: Promise<void> | null = null;
  let stopped = false;
  let rerun = false;

  async function claim(id: string, now: number): Promise<boolean> {
    const res = await db.update(notificationDeliveries).set({ status: 'sending', leaseUntil: now + leaseMs })
      .where(and(eq(notificationDeliveries.id, id), or(
        and(eq(notificationDeliveries.status, 'pending'), lte(notificationDeliveries.nextAttemptAt, now)),
        and(eq(notificationDeliveries.status, 'sending'), lt(notificationDeliveries.leaseUntil, now)),
      ))).returning({ id: notificationDeliveries.id });
    return res.length > 0;
  }

  async function dueRows(now: number, limit: number) {
    const rows = await db.select({ id: notificationDeliveries.id, channel: notificationDeliveries.channel, orgId: notificationDeliveries.orgId, endpointId: notificationDeliveries.endpointId })
      .from(notificationDeliveries)
      .where(or(
        and(eq(notificationDeliveries.status, 'pending'), lte(notificationDeliveries.nextAttemptAt, now)),
        and(eq(notificationDeliveries.status, 'sending'), lt(notificationDeliveries.leaseUntil, now)),
      ))
      .orderBy(notificationDeliveries.nextAttemptAt).limit(Math.max(200, limit + inFlight.size));
    const picked: typeof rows = [];
    const planned = new Map(perTarget);
    for (const r of rows) {
      if (picked.length >= limit) break;
      if (inFlight.has(r.id)) continue;
      const t = deliveryTarget(r);
      if ((planned.get(t) ?? 0) >= maxPerTarget) continue;
      planned.set(t, (planned.get(t) ?? 0) + 1);
      picked.push(r);
    }
    return picked;
  }

  function track(target: string, id: string, p: Promise<AttemptOutcome | null>): Promise<AttemptOutcome | null> {
    perTarget.set(target, (perTarget.get(target) ?? 0) + 1);
    const done = p.finally(() => {
      inFlight.delete(id);
      const n = (perTarget.get(target) ?? 1) - 1;
      if (n <= 0) perTarget.delete(target); else perTarget.set(target, n);
      // A freed slot may unblock deliveries waiting behind a slow target.
      if (!stopped) void tickOnce();
    });
    inFlight.set(id, done);
    return done;
  }

  async function tick(): Promise<void> {
    const now = clock.now();
    const room = maxInFlight - inFlight.size;
    if (room <= 0) return;
    for (const row of await dueRows(now, room)) {
      if (!(await claim(row.id, now))) continue;
      track(deliveryTarget(row), row.id, attempt(row.id).catch((err: unknown) => {
        log.error({ deliveryId: row.id, err: String(err) }, 'notification delivery crashed');
        return null;
      }));
    }
  }

  function tickOnce(): Promise<void> {
    // Ticks never overlap; a request during a tick runs one more tick (with a fresh clock reading) after it.
    if (ticking) {
      rerun = true;
      return ticking;
    }
    ticking = (async () => {
      do {
        rerun = false;
        await tick().catch((err: unknown) => { log.error({ err: String(err) }, 'delivery loop tick failed'); });
      } while (rerun && !stopped);
    })().finally(() => { ticking = null; });
    return ticking;
  }

  type Sent = { ok: boolean; statusCode: number | null; error: string | null; retryAfterMs: number | null; disable: boolean };

  async function sendWebhook(endpoint: typeof webhookEndpoints.$inferSelect, ev: ReturnType<typeof eventView>): Promise<Sent> {
    const refused = checkWebhookUrl(endpoint.url, opts.policy);
    if (refused) return { ok: false, statusCode: null, error: refused, retryAfterMs: null, disable: true };
    const body = webhookBody(endpoint.format, ev);
    const ts = Math.floor(clock.now() / 1000);
    const headers = await webhookHeaders(endpoint.secret, `msg_${ev.id}`, ts, body);
    try {
      const res = await doFetch(endpoint.url, {
        method: 'POST', body, redirect: 'manual', signal: AbortSignal.timeout(timeouts.webhookMs),
        headers: { 'content-type': 'application/json', 'user-agent': 'Tandem-Webhooks/1', ...headers },
      });
      await res.body?.cancel().catch(() => {});
      const outcome = classifyResponse(res.status);
      return {
        ok: outcome === 'delivered', statusCode: res.status, disable: outcome === 'disable_endpoint',
        error: outcome === 'delivered' ? null : `HTTP ${res.status}`,
        retryAfterMs: parseRetryAfter(res.headers.get('retry-after'), clock.now()),
      };
    } catch (err) {
      const e = err as Error;
      const cause = (e.cause as Error | undefined)?.message;
      return { ok: false, statusCode: null, error: e.name === 'TimeoutError' ? `no answer within ${timeouts.webhookMs} ms` : (cause ?? e.message), retryAfterMs: null, disable: false };
    }
  }

  async function sendEmail(orgId: string, ev: ReturnType<typeof eventView>): Promise<Sent> {
    const [s] = await db.select().from(emailSettings).where(eq(emailSettings.orgId, orgId));
    if (!s || !s.enabled) return { ok: false, statusCode: null, error: 'e-mail notification is not configured', retryAfterMs: null, disable: true };
    if (!opts.email) return { ok: false, statusCode: null, error: 'no e-mail transport on this runtime (configure the e-mail relay)', retryAfterMs: null, disable: true };
    const content = emailContent(ev, { subjectPrefix: s.subjectPrefix, includeText: s.includeText });
    try {
      const r = await withTimeout(opts.email.send(s, { from: s.from, to: s.recipients, ...content }), timeouts.smtpMs * 2, 'SMTP delivery');
      const code = /^(\d{3})/.exec(r.response ?? '')?.[1];
      return { ok: r.ok, statusCode: code ? Number(code) : null, error: r.ok ? null : (r.error ?? r.response ?? 'send failed'), retryAfterMs: null, disable: false };
    } catch (err) {
      return { ok: false, statusCode: null, error: (err as Error).message, retryAfterMs: null, disable: false };
    }
  }

  async function attempt(id: string): Promise<AttemptOutcome | null> {
    const [d] = await db.select().from(notificationDeliveries).where(eq(notificationDeliveries.id, id));
    if (!d) return null;
    const [evRow] = await db.select().from(events).where(eq(events.id, d.eventId));
    const started = clock.now();
    let sent: Sent;
    let endpoint: typeof webhookEndpoints.$inferSelect | undefined;
    if (!evRow) {
      sent = { ok: false, statusCode: null, error: 'the event was pruned', retryAfterMs: null, disable: true };
    } else if (d.channel === 'webhook') {
      [endpoint] = await db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, d.endpointId ?? ''));
      sent = !endpoint ? { ok: false, statusCode: null, error: 'the endpoint was deleted', retryAfterMs: null, disable: false }
        : !endpoint.enabled ? { ok: false, statusCode: null, error: `the endpoint is disabled (${endpoint.disabledReason ?? 'by an operator'})`, retryAfterMs: null, disable: false }
        : await sendWebhook(endpoint, eventView(evRow));
      if (!endpoint || !endpoint.enabled) sent.disable = false;
    } else {
      sent = await sendEmail(d.orgId, eventView(evRow));
    }
    const now = clock.now();
    const attempts = d.attempts + 1;
    await db.insert(notificationAttempts).values({
      id: randomId('att'), deliveryId: d.id, orgId: d.orgId, at: now, statusCode: sent.statusCode, ok: sent.ok,
      error: sent.error, durationMs: Math.max(0, now - started),
    });
    const endpointGone = d.channel === 'webhook' && (!endpoint || !endpoint.enabled);
    const delay = sent.ok || sent.disable || endpointGone ? null : nextRetryDelay(attempts, { jitter: jitter(), retryAfterMs: sent.retryAfterMs });
    const status = sent.ok ? 'succeeded' : delay != null ? 'pending' : 'failed';
    const nextAttemptAt = delay != null ? now + delay : null;
    await db.update(notificationDeliveries).set({
      status, attempts, nextAttemptAt: nextAttemptAt ?? d.nextAttemptAt, leaseUntil: null, lastStatusCode: sent.statusCode,
      lastError: sent.error, completedAt: status === 'pending' ? null : now,
    }).where(eq(notificationDeliveries.id, d.id));
    log.info({ deliveryId: d.id, channel: d.channel, endpointId: d.endpointId, eventId: d.eventId, attempt: attempts, ok: sent.ok, statusCode: sent.statusCode, error: sent.error, status }, 'notification attempt');
    if (d.channel === 'webhook' && endpoint?.enabled && (sent.disable || (status === 'failed' && !sent.ok))) {
      const reason = sent.statusCode === 410 ? 'the receiver answered 410 Gone'
        : sent.disable ? (sent.error ?? 'refused') : `every retry failed for ${attempts} attempts (last: ${sent.error})`;
      await db.update(webhookEndpoints).set({ enabled: false, disabledReason: reason, updatedAt: now }).where(eq(webhookEndpoints.id, endpoint.id));
      opts.raise({ event: 'notify.webhook_disabled', orgId: d.orgId, fields: { endpointId: endpoint.id, endpointUrl: endpoint.url, reason } });
    }
    if (d.channel === 'email' && !sent.ok && attempts === 1 && evRow?.name !== 'notify.email_failed') {
      const [s] = await db.select({ host: emailSettings.host }).from(emailSettings).where(eq(emailSettings.orgId, d.orgId));
      opts.raise({ event: 'notify.email_failed', orgId: d.orgId, fields: { host: s?.host ?? null, error: sent.error } });
    }
    return { deliveryId: d.id, ok: sent.ok, statusCode: sent.statusCode, error: sent.error, status, nextAttemptAt };
  }

  async function runMaintenance(): Promise<void> {
    for (const task of maintenance) {
      await task().catch((err: unknown) => log.error({ err: String(err) }, 'notification maintenance task failed'));
    }
  }

  return {
    email: opts.email,
    policy: opts.policy,
    timeouts,
    kick() { void tickOnce(); },
    async runDue() {
      // Repeat while sends finish, so deliveries queued behind a busy target go out too.
      do {
        await tickOnce();
        if (inFlight.size > 0) await Promise.race([...inFlight.values()]);
      } while (inFlight.size > 0);
    },
    async settle() {
      await ticking;
      while (inFlight.size > 0) await Promise.all([...inFlight.values()]);
    },
    async deliverNow(id) {
      const now = clock.now();
      const existing = inFlight.get(id);
      if (existing) return existing;
      await db.update(notificationDeliveries).set({ nextAttemptAt: now }).where(and(eq(notificationDeliveries.id, id), eq(notificationDeliveries.status, 'pending')));
      if (!(await claim(id, now))) {
        // Claimed by a concurrent tick: report that attempt instead.
        await ticking;
        return inFlight.get(id) ?? null;
      }
      const [row] = await db.select({ channel: notificationDeliveries.channel, orgId: notificationDeliveries.orgId, endpointId: notificationDeliveries.endpointId })
        .from(notificationDeliveries).where(eq(notificationDeliveries.id, id));
      return track(row ? deliveryTarget(row) : id, id, attempt(id));
    },
    start(intervalMs = 1000) {
      if (timer) return;
      stopped = false;
      timer = setInterval(() => void tickOnce(), intervalMs);
      maintTimer = setInterval(() => void runMaintenance(), 60_000);
      timer.unref?.();
      maintTimer.unref?.();
      void runMaintenance();
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      clearInterval(maintTimer);
      timer = maintTimer = undefined;
      await ticking;
      // In-flight sends finish within their timeouts; a lease returns unfinished ones to the queue after a restart.
    },
    addMaintenance(task) { maintenance.push(task); },
    maintain: runMaintenance,
  };
}
