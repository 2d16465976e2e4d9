// Core hub tables: organizations, API tokens, the hub signing key, agent config tokens, servers and commands.
import { sqliteTable, text, integer, index, uniqueIndex } from 'drizzle-orm/sqlite-core';

export const orgs = sqliteTable('orgs', {
  id: text('id').primaryKey(),
  name: text('name').notNull().unique(),
  createdAt: integer('created_at').notNull(),
});

export const apiTokens = sqliteTable('api_tokens', {
  id: text('id').primaryKey(),
  orgId: text('org_id').notNull().references(() => orgs.id),
  name: text('name').notNull(),
  role: text('role', { enum: ['admin', 'monitor', 'issuer'] }).notNull(),
  tokenHash: text('token_hash').notNull().unique(),
  createdAt: integer('created_at').notNull(),
  lastUsedAt: integer('last_used_at'),
});

/** Ed25519 key pairs that sign config tokens, job tokens and licence files; the newest active one signs. */
export const signingKeys = sqliteTable('signing_keys', {
  kid: text('kid').primaryKey(),
  publicJwk: text('public_jwk').notNull(),
  privateJwk: text('private_jwk').notNull(),
  createdAt: integer('created_at').notNull(),
});

export const agentTokens = sqliteTable('agent_tokens', {
  id: text('id').primaryKey(),
  orgId: text('org_id').notNull().references(() => orgs.id),
  name: text('name'),
  expiresAt: integer('expires_at').notNull(),
  maxUses: integer('max_uses'),
  uses: integer('uses').notNull().default(0),
  defaults: text('defaults', { mode: 'json' }).$type<Record<string, unknown>>(),
  createdAt: integer('created_at').notNull(),
  revokedAt: integer('revoked_at'),
});

export const servers = sqliteTable(
  'servers',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id').notNull().references(() => orgs.id),
    name: text('name').notNull(),
    credentialHash: text('credential_hash').notNull().unique(),
    enrolledWith: text('enrolled_with'),
    hostname: text('hostname').notNull(),
    machineId: text('machine_id').notNull(),
    os: text('os').notNull(),
    agentVersion: text('agent_version').notNull(),
    addresses: text('addresses', { mode: 'json' }).$type<string[]>().notNull(),
    dataPort: integer('data_port').notNull(),
    certFingerprint: text('cert_fingerprint').notNull(),
    filesystems: text('filesystems', { mode: 'json' }).$type<Record<string, string>>().notNull(),
    settings: text('settings', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    state: text('state', { mode: 'json' }).$type<Record<string, unknown>>(),
    createdAt: integer('created_at').notNull(),
    lastSeenAt: integer('last_seen_at'),
    lastPollWaitSec: integer('last_poll_wait_sec'),
    clockSkewMs: integer('clock_skew_ms'),
  },
  (t) => [uniqueIndex('servers_org_name').on(t.orgId, t.name)],
);

export const commands = sqliteTable(
  'commands',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id').notNull(),
    serverId: text('server_id').notNull(),
    kind: text('kind').notNull(),
    payload: text('payload', { mode: 'json' }).$type<unknown>(),
    status: text('status', { enum: ['pending', 'delivered', 'succeeded', 'failed'] }).notNull(),
    result: text('result', { mode: 'json' }).$type<unknown>(),
    createdAt: integer('created_at').notNull(),
    deliveredAt: integer('delivered_at'),
    completedAt: integer('completed_at'),
  },
  (t) => [index('commands_server_status').on(t.serverId, t.status)],
);
