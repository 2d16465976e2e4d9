// Control-plane message schemas (hub API and agent↔hub channel): one zod schema per message, used on both ends.
import { z } from 'zod';
import { ApiRole, ServerStatus, CommandStatus } from '../states';

// --- API tokens -----------------------------------------------------------------------------------------------
export const ApiTokenCreate = z.strictObject({
  name: z.string().min(1).max(100),
  role: ApiRole.default('monitor'),
});
export const ApiTokenView = z.object({
  id: z.string(), name: z.string(), role: ApiRole, createdAt: z.string(), lastUsedAt: z.string().nullable(),
});
export const ApiTokenCreated = ApiTokenView.extend({ token: z.string() });

// --- Agent config tokens --------------------------------------------------------------------------------------
export const ServerSettings = z.strictObject({
  pollWaitSec: z.number().int().min(0).max(25).optional(),
  dataPort: z.number().int().min(1).max(65535).optional(),
  addresses: z.array(z.string().min(1).max(255)).max(32).optional(),
  queue: z.strictObject({
    memoryMaxMB: z.number().int().min(0).max(1_048_576).optional(),
    diskMaxMB: z.number().int().min(0).nullable().optional(),
    diskFreeMinMB: z.number().int().min(0).optional(),
  }).optional(),
});
export type ServerSettings = z.infer<typeof ServerSettings>;

export const AgentTokenCreate = z.strictObject({
  name: z.string().min(1).max(100).optional(),
  expiresInSec: z.number().int().min(60).max(365 * 86400).default(7 * 86400),
  maxUses: z.number().int().min(1).max(100_000).optional(),
  defaults: ServerSettings.optional(),
});
export const AgentTokenView = z.object({
  id: z.string(), name: z.string().nullable(), expiresAt: z.string(), maxUses: z.number().nullable(),
  uses: z.number(), remainingUses: z.number().nullable(), revoked: z.boolean(), createdAt: z.string(),
});
export const AgentTokenCreated = AgentTokenView.extend({ token: z.string() });

/** Claims inside an agent config token (JWT): what a new host needs to find and join the hub. */
export const ConfigTokenClaims = z.object({
  sub: z.string(), org: z.string(), hub: z.string(), maxUses: z.number().nullable(), defaults: ServerSettings.nullable(),
  exp: z.number(),
});
export type ConfigTokenClaims = z.infer<typeof ConfigTokenClaims>;

// --- Enrolment --------------------------------------------------------------------------------------------------
export const HostFacts = z.strictObject({
  name: z.string().min(1).max(100).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, dot, dash, underscore'),
  hostname: z.string().min(1).max(255),
  machineId: z.string().min(1).max(128),
  os: z.string().max(255),
  agentVersion: z.string().max(50),
  addresses: z.array(z.string().max(255)).max(32),
  dataPort: z.number().int().min(1).max(65535),
  filesystems: z.record(z.string().max(4096), z.string().max(64)),
  certFingerprint: z.string().regex(/^[0-9A-F]{2}(:[0-9A-F]{2}){31}$/, 'SHA-256 fingerprint AA:BB:…'),
});
export type HostFacts = z.infer<typeof HostFacts>;

export const EnrolRequest = z.strictObject({ configToken: z.string().min(1).max(8192), host: HostFacts });
export const EnrolResponse = z.object({
  serverId: z.string(), orgId: z.string(), credential: z.string(), settings: z.record(z.string(), z.unknown()),
});
export type EnrolResponse = z.infer<typeof EnrolResponse>;

// --- Poll channel -----------------------------------------------------------------------------------------------
export const AgentCommand = z.object({
  id: z.string(), kind: z.string(), payload: z.unknown(), createdAt: z.string(),
});
export type AgentCommand = z.infer<typeof AgentCommand>;

/** One file system of an agent's host, reported in its polls (`state.filesystems`): the hub checks free space with it. */
export const FilesystemUsage = z.object({
  mount: z.string().max(4096), type: z.string().max(64).optional(), freeBytes: z.number().min(0), totalBytes: z.number().min(0),
});
export type FilesystemUsage = z.infer<typeof FilesystemUsage>;

export const PollRequest = z.strictObject({
  /** Seconds the hub may hold the request open waiting for a command (long poll). */
  wait: z.number().min(0).max(60).default(0),
  agentTime: z.number().int(),
  agentVersion: z.string().max(50),
  addresses: z.array(z.string().max(255)).max(32).optional(),
  /** The data port actually listened on (it may change across restarts). */
  dataPort: z.number().int().min(1).max(65535).optional(),
  /** Free-form agent state plus per-job status; validated per job by the jobs module. */
  state: z.record(z.string(), z.unknown()).default({}),
  jobs: z.array(z.record(z.string(), z.unknown())).max(1000).default([]),
  /**
   * The goal version (`desiredVersion` of an earlier answer) the agent has applied. When it is not the hub's
   * current one the poll is answered at once. Without it the hub waits for a command or a change.
   */
  desiredVersion: z.string().max(128).optional(),
});
export type PollRequest = z.infer<typeof PollRequest>;

export const PollResponse = z.object({
  serverId: z.string(),
  hubTime: z.number(),
  commands: z.array(AgentCommand),
  desired: z.record(z.string(), z.unknown()),
  settings: z.record(z.string(), z.unknown()),
  /** Absent from hubs older than this field. */
  desiredVersion: z.string().optional(),
  /**
   * How long this poll was held at most (the agent's wait, capped by the hub): 0 from a hub that answers at once
   * (Cloudflare Workers), which the agent then polls every few seconds instead of at once. Absent from older hubs.
   */
  waitSec: z.number().optional(),
});
export type PollResponse = z.infer<typeof PollResponse>;

export const CommandResult = z.strictObject({
  ok: z.boolean(),
  result: z.unknown().optional(),
  error: z.strictObject({ code: z.string().max(100), message: z.string().max(4000) }).optional(),
});
export type CommandResult = z.infer<typeof CommandResult>;

export const CommandCreate = z.strictObject({
  kind: z.enum(['noop', 'reload']),
  payload: z.record(z.string(), z.unknown()).optional(),
});

export const CommandView = z.object({
  id: z.string(), serverId: z.string(), kind: z.string(), payload: z.unknown(), status: CommandStatus,
  result: z.unknown().nullable(), createdAt: z.string(), deliveredAt: z.string().nullable(), completedAt: z.string().nullable(),
});

// --- Servers ----------------------------------------------------------------------------------------------------
export const ServerView = z.object({
  id: z.string(), name: z.string(), status: ServerStatus, hostname: z.string(), machineId: z.string(), os: z.string(),
  version: z.string(), addresses: z.array(z.string()), dataPort: z.number(), certFingerprint: z.string(),
  filesystems: z.record(z.string(), z.string()), settings: z.record(z.string(), z.unknown()),
  lastSeenAt: z.string().nullable(), clockSkewMs: z.number().nullable(), createdAt: z.string(),
});
export type ServerView = z.infer<typeof ServerView>;

export const ServerPatch = z.strictObject({
  name: z.string().min(1).max(100).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/).optional(),
  settings: ServerSettings.optional(),
});

export const Health = z.object({ ok: z.literal(true), version: z.string() });
