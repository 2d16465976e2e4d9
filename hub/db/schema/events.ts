// Events raised by the hub and agents, and the notification channels that deliver them (e-mail, webhooks).
import { sqliteTable, text, integer, index } from 'drizzle-orm/sqlite-core';
import type { EventFields } from '../../../shared/events/types';
import type { NotifyFilter } from '../../../shared/events/filter';

export const events = sqliteTable(
  'events',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id').notNull(),
    typeId: integer('type_id').notNull(),
    name: text('name').notNull(),
    severity: text('severity', { enum: ['info', 'warning', 'error'] }).notNull(),
    message: text('message').notNull(),
    fields: text('fields', { mode: 'json' }).$type<EventFields>().notNull(),
    jobId: text('job_id'),
    serverId: text('server_id'),
    dedupKey: text('dedup_key').notNull(),
    resolves: text('resolves'),
    count: integer('count').notNull().default(1),
    firstAt: integer('first_at').notNull(),
    lastAt: integer('last_at').notNull(),
  },
  (t) => [
    index('events_org_first').on(t.orgId, t.firstAt),
    index('events_org_dedup').on(t.orgId, t.dedupKey, t.firstAt),
  ],
);

/** One row per org; the SMTP password is write-only through the API. */
export const emailSettings = sqliteTable('email_settings', {
  orgId: text('org_id').primaryKey(),
  enabled: integer('enabled', { mode: 'boolean' }).notNull(),
  host: text('host').notNull(),
  port: integer('port').notNull(),
  tls: text('tls', { enum: ['none', 'starttls', 'implicit'] }).notNull(),
  username: text('username'),
  password: text('password'),
  from: text('from_address').notNull(),
  recipients: text('recipients', { mode: 'json' }).$type<string[]>().notNull(),
  subjectPrefix: text('subject_prefix').notNull(),
  includeText: integer('include_text', { mode: 'boolean' }).notNull(),
  filter: text('filter', { mode: 'json' }).$type<NotifyFilter>().notNull(),
  updatedAt: integer('updated_at').notNull(),
});

export const webhookEndpoints = sqliteTable(
  'webhook_endpoints',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id').notNull(),
    name: text('name'),
    url: text('url').notNull(),
    /** `whsec_…`; used to sign, never returned by the API. */
    secret: text('secret').notNull(),
    format: text('format', { enum: ['standard', 'slack', 'teams'] }).notNull(),
    filter: text('filter', { mode: 'json' }).$type<NotifyFilter>().notNull(),
    enabled: integer('enabled', { mode: 'boolean' }).notNull(),
    disabledReason: text('disabled_reason'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [index('webhook_endpoints_org').on(t.orgId)],
);

/** The delivery queue: one row per (event, channel endpoint); the delivery loop works it off asynchronously. */
export const notificationDeliveries = sqliteTable(
  'notification_deliveries',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id').notNull(),
    eventId: text('event_id').notNull(),
    channel: text('channel', { enum: ['email', 'webhook'] }).notNull(),
    endpointId: text('endpoint_id'),
    status: text('status', { enum: ['pending', 'sending', 'succeeded', 'failed'] }).notNull(),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: integer('next_attempt_at').notNull(),
    leaseUntil: integer('lease_until'),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    createdAt: integer('created_at').notNull(),
    completedAt: integer('completed_at'),
  },
  (t) => [
    index('deliveries_due').on(t.status, t.nextAttemptAt),
    index('deliveries_endpoint').on(t.endpointId, t.createdAt),
    index('deliveries_event').on(t.eventId),
  ],
);

/** Every delivery attempt with its outcome: the per-endpoint delivery log. */
export const notificationAttempts = sqliteTable(
  'notification_attempts',
  {
    id: text('id').primaryKey(),
    deliveryId: text('delivery_id').notNull(),
    orgId: text('org_id').notNull(),
    at: integer('at').notNull(),
    statusCode: integer('status_code'),
    ok: integer('ok', { mode: 'boolean' }).notNull(),
    error: text('error'),
    durationMs: integer('duration_ms').notNull(),
  },
  (t) => [index('attempts_delivery').on(t.deliveryId, t.at)],
);
