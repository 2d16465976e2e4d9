// Jobs: definition, lifecycle state and epoch (hub-owned), control requests, and the status agents report.
import { sqliteTable, text, integer, uniqueIndex, index } from 'drizzle-orm/sqlite-core';
import { orgs } from './core';

export const jobs = sqliteTable(
  'jobs',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id').notNull().references(() => orgs.id),
    name: text('name').notNull(),
    type: text('type').notNull(),
    sourceServerId: text('source_server_id').notNull(),
    targetServerId: text('target_server_id').notNull(),
    spec: text('spec', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    state: text('state').notNull(),
    /** Where a job returns when a failover condition clears. */
    resumeState: text('resume_state'),
    /** Bumped by every failover, restore, failback and reverse; the target refuses streams of older epochs. */
    epoch: integer('epoch').notNull().default(1),
    /** The latest mirror control ({id, action, mode}); agents act on a request id once. */
    mirrorRequest: text('mirror_request', { mode: 'json' }).$type<Record<string, unknown> | null>(),
    verifyRequest: text('verify_request', { mode: 'json' }).$type<Record<string, unknown> | null>(),
    /** Free-form controls for later phases (replication pause, failover orders). */
    controls: text('controls', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    sourceStatus: text('source_status', { mode: 'json' }).$type<Record<string, unknown> | null>(),
    targetStatus: text('target_status', { mode: 'json' }).$type<Record<string, unknown> | null>(),
    sourceStatusAt: integer('source_status_at'),
    targetStatusAt: integer('target_status_at'),
    verifyReport: text('verify_report', { mode: 'json' }).$type<Record<string, unknown> | null>(),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    uniqueIndex('jobs_org_name').on(t.orgId, t.name),
    index('jobs_source').on(t.sourceServerId),
    index('jobs_target').on(t.targetServerId),
  ],
);
