// A files job as an operator defines it: rules, path mapping, mirror/verify/orphan options, compression,
// replication and failover settings. One schema, used by the hub's API and by both agents.
import { z } from 'zod';
import { RulesSchema } from '../rules';
import { PathMappingSchema } from '../paths';
import { AbsolutePathSchema } from '../paths/absolute-path';
import { FailoverMonitorSchema, FailoverOptionsSchema, SnapshotSettingsSchema, CronScheduleSchema } from './failover-settings';
import { mergePatchSchema } from './merge-patch';
import { BandwidthSettings, TimeWindow } from '../schedule';

export { BandwidthOverride, BandwidthSettings } from '../schedule';

export const MirrorSettings = z.strictObject({
  /** all: send every file; different: only files whose size or modification time differ. */
  mode: z.enum(['all', 'different']).default('different'),
  /** Only replace target files older than the source's. */
  newerOnly: z.boolean().default(false),
  /** For differing files, send only blocks whose hashes differ. */
  blockChecksum: z.boolean().default(true),
  /** Count the data first so progress can show a percentage and ETA. */
  calculateSize: z.boolean().default(true),
});
export type MirrorSettings = z.output<typeof MirrorSettings>;

export const OrphanSettings = z.strictObject({
  action: z.enum(['keep', 'delete', 'move']).default('keep'),
  moveTo: AbsolutePathSchema.optional(),
}).refine((o) => o.action !== 'move' || !!o.moveTo, { message: 'orphans.moveTo is required when action is "move"', path: ['moveTo'] });
export type OrphanSettings = z.output<typeof OrphanSettings>;

export const VerifySettings = z.strictObject({
  schedule: CronScheduleSchema.optional(),
  mirrorDifferences: z.boolean().default(false),
  newerOnly: z.boolean().default(false),
  blockChecksum: z.boolean().default(false),
});

export const ReplicationSettings = z.strictObject({
  /** Longest time a change waits to be batched before it is sent. */
  batchMs: z.number().int().min(0).max(5000).default(50),
  /** Replication lag above this raises an event. */
  lagThresholdSec: z.number().int().min(1).max(86_400).default(60),
  /** Light rescan that catches anything the watcher missed. */
  rescanIntervalSec: z.number().int().min(60).max(7 * 86_400).default(3600),
});

export const Compression = z.union([z.literal('off'), z.number().int().min(1).max(19)]);

/** Everything about a files job except its name and servers. */
export const FilesJobSpec = z.strictObject({
  rules: RulesSchema.min(1, 'a job needs at least one include rule'),
  pathMapping: PathMappingSchema.default({ mode: 'one_to_one' }),
  mirror: MirrorSettings.default(MirrorSettings.parse({})),
  orphans: OrphanSettings.default({ action: 'keep' }),
  compression: Compression.default(3),
  verify: VerifySettings.default(VerifySettings.parse({})),
  replication: ReplicationSettings.default(ReplicationSettings.parse({})),
  failoverMonitor: FailoverMonitorSchema.default(FailoverMonitorSchema.parse({})),
  failover: FailoverOptionsSchema.default(FailoverOptionsSchema.parse({})),
  snapshots: SnapshotSettingsSchema.default(SnapshotSettingsSchema.parse({})),
  bandwidth: BandwidthSettings.default(BandwidthSettings.parse({})),
  /**
   * When the source may transmit (the transmit mode "Scheduled" outside them): none means always. Outside every
   * window the source queues changes and sends nothing (mirror, verify and replication wait) until one opens.
   */
  transmitWindows: z.array(TimeWindow).max(100).default([]),
});
export type FilesJobSpec = z.output<typeof FilesJobSpec>;

const JobName = z.string().min(1).max(100).regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]*$/, 'letters, digits, space, dot, dash, underscore');

export const JobCreate = z.strictObject({
  name: JobName,
  type: z.literal('files').default('files'),
  source: z.string().min(1).max(100),
  target: z.string().min(1).max(100),
  start: z.boolean().default(true),
  ...FilesJobSpec.shape,
});
export type JobCreate = z.output<typeof JobCreate>;

/**
 * An edit of a job: a JSON merge patch (RFC 7396) of its name and settings. What the patch leaves out keeps its stored
 * value, objects merge key by key, arrays are replaced whole, and null removes an optional setting (verify.schedule,
 * orphans.moveTo, a failover script...). The merged settings are validated with FilesJobSpec, exactly as on create.
 */
export const JobPatch = mergePatchSchema(z.strictObject({ name: JobName, ...FilesJobSpec.shape }))
  .describe('A JSON merge patch (RFC 7396): objects merge, arrays replace, null removes an optional setting');
export type JobPatch = z.output<typeof JobPatch>;

export const MirrorControl = z.strictObject({
  action: z.enum(['start', 'pause', 'resume', 'stop']),
  mode: z.enum(['all', 'different']).optional(),
});

export const VerifyRequest = z.strictObject({
  mirrorDifferences: z.boolean().optional(),
  newerOnly: z.boolean().optional(),
  blockChecksum: z.boolean().optional(),
});

export const ValidationItem = z.object({
  severity: z.enum(['error', 'warning', 'ok']),
  code: z.string(),
  message: z.string(),
});
export type ValidationItem = z.infer<typeof ValidationItem>;

export const FailoverRequest = z.strictObject({ queueAction: z.enum(['apply', 'discard']).optional() });
export const RestoreRequest = z.strictObject({ restoreData: z.boolean().default(true), to: z.string().max(100).optional() });
export const FailbackRequest = z.strictObject({});
