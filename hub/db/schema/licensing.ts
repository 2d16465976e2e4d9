// Licensing tables: hub secrets, licences (the inventory), their assignments to servers, activation-request replay
// guard, job seats, and the activation portal's users, sessions and login throttle. Every row carries org_id.
import { sqliteTable, text, integer, index, primaryKey } from 'drizzle-orm/sqlite-core';
import { orgs } from './core';

/** Hub-held secrets: the licence issuer MAC key, the portal cookie key. Created on first use. */
export const hubSecrets = sqliteTable('hub_secrets', {
  name: text('name').primaryKey(),
  secret: text('secret').notNull(),
  createdAt: integer('created_at').notNull(),
});

export const licences = sqliteTable(
  'licences',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id').notNull().references(() => orgs.id),
    /** Normalized 24-character code (no dashes, upper case). */
    code: text('code').notNull().unique(),
    serial: integer('serial').notNull().unique(),
    type: text('type', { enum: ['evaluation', 'single', 'site', 'job_seats'] }).notNull(),
    edition: text('edition', { enum: ['foundation', 'standard', 'advanced', 'enterprise'] }).notNull(),
    requiresActivation: integer('requires_activation', { mode: 'boolean' }).notNull(),
    expiresAt: integer('expires_at'),
    /** Seats for job_seats; servers cap for site codes (null: unlimited). */
    quantity: integer('quantity'),
    /** Job types a seat pool gates (null: every type). */
    seatJobTypes: text('seat_job_types', { mode: 'json' }).$type<string[]>(),
    product: text('product').notNull(),
    version: text('version').notNull(),
    hostTransfersUsed: integer('host_transfers_used').notNull().default(0),
    issuedAt: integer('issued_at').notNull(),
    issuedBy: text('issued_by'),
    /** When the org added the code to its inventory (null: issued to the org but not added yet, or removed). */
    addedAt: integer('added_at'),
    /** Expiry thresholds (days) already announced as licence.expiring events. */
    expiryWarningsSent: text('expiry_warnings_sent', { mode: 'json' }).$type<number[]>().notNull(),
  },
  (t) => [index('licences_org').on(t.orgId)],
);

export const licenceAssignments = sqliteTable(
  'licence_assignments',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id').notNull().references(() => orgs.id),
    licenceId: text('licence_id').notNull().references(() => licences.id),
    /** The server, when the host is enrolled (a host activated offline before enrolling has none yet). */
    serverId: text('server_id'),
    state: text('state', { enum: ['applied', 'activated', 'deactivated'] }).notNull(),
    appliedAt: integer('applied_at').notNull(),
    activationDeadline: integer('activation_deadline'),
    activatedAt: integer('activated_at'),
    activationMethod: text('activation_method', { enum: ['online', 'key', 'file'] }),
    /** Host fingerprint and hostname the activation is bound to. */
    hostFingerprint: text('host_fingerprint'),
    hostname: text('hostname'),
    deactivatedAt: integer('deactivated_at'),
    deactivationReason: text('deactivation_reason'),
    /** Expiry of the newest signed licence file handed out for this assignment. */
    fileExpiresAt: integer('file_expires_at'),
    /** Events already raised for this assignment (e.g. not_activated, host_mismatch) so each is raised once. */
    eventsRaised: text('events_raised', { mode: 'json' }).$type<string[]>().notNull(),
  },
  (t) => [
    index('licence_assignments_licence').on(t.licenceId, t.state),
    index('licence_assignments_server').on(t.serverId, t.state),
  ],
);

/** Activation requests already answered: a request code or file is used once (replay guard). */
export const activationRequests = sqliteTable('activation_requests', {
  nonce: text('nonce').notNull(),
  host: text('host').notNull(),
  orgId: text('org_id').notNull(),
  licenceId: text('licence_id').notNull(),
  assignmentId: text('assignment_id').notNull(),
  usedAt: integer('used_at').notNull(),
}, (t) => [primaryKey({ columns: [t.host, t.nonce] })]);

/** One row per job holding a seat of a job_seats licence; deleting the job deletes the row. */
export const jobSeats = sqliteTable('job_seats', {
  jobId: text('job_id').primaryKey(),
  orgId: text('org_id').notNull(),
  licenceId: text('licence_id').notNull().references(() => licences.id),
  claimedAt: integer('claimed_at').notNull(),
}, (t) => [index('job_seats_licence').on(t.licenceId)]);

export const portalUsers = sqliteTable('portal_users', {
  id: text('id').primaryKey(),
  orgId: text('org_id').notNull().references(() => orgs.id),
  email: text('email').notNull().unique(),
  name: text('name'),
  passwordHash: text('password_hash').notNull(),
  createdAt: integer('created_at').notNull(),
  lastLoginAt: integer('last_login_at'),
});

export const portalSessions = sqliteTable('portal_sessions', {
  id: text('id').primaryKey(),
  userId: text('user_id').notNull(),
  orgId: text('org_id').notNull(),
  csrf: text('csrf').notNull(),
  createdAt: integer('created_at').notNull(),
  expiresAt: integer('expires_at').notNull(),
}, (t) => [index('portal_sessions_user').on(t.userId)]);

/** Failed sign-ins per e-mail and per client address, in a sliding window. */
export const portalLoginFailures = sqliteTable('portal_login_failures', {
  key: text('key').primaryKey(),
  count: integer('count').notNull(),
  windowStart: integer('window_start').notNull(),
});

