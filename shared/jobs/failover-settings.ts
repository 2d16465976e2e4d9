// Per-job failover monitor, failover options and snapshot settings: zod schemas with the defaults the hub stores.
// Manual sections 2.7 (monitor), 2.8 (options), 2.9 (identity), 2.13 (services), 2.14 (snapshots).
/*
Defaults (copy into the README):

  failoverMonitor:
    mode: time             # 'time' = no answer for failoverTimeSec; 'count' = missedCount consecutive misses
    failoverTimeSec: 30    # the manual gives no default; 30 s matches pg_auto_failover/Patroni practice
    missedCount: 6         # count mode: about (probe timeout + interval) × 6
    intervalSec: 5         # pause after each answer before the next probe; 0 = probe again at once
    method: both           # network (ICMP/TCP) | service (the source agent's health endpoint) | both (both must fail)
    addresses: []          # source addresses to probe
    trigger: all           # any = one failed address is enough; all = every address must fail
    services: []           # [{name: systemd unit, restart: false}]; any failed unit fires the monitor
  failoverOptions:
    waitForUser: true      # stop at "Failover Condition Met" and let an operator fail over
    queueAction: apply     # apply the target queue before failover (discard = faster, loses queued data)
    scripts: {}            # preFailover, postFailover, preFailback, postFailback:
                           #   {path (absolute), args: [], wait: true, timeoutSec: 300, runOn: target}
                           #   runOn: source is allowed only for postFailback
    services: []           # systemd units: started in order on the target, stopped in reverse on the source
    identity: {mode: retain_target, addresses: []}
                           # move_addresses needs addresses [{cidr: 10.0.0.5/24, device: eth0}]
                           # dnsHook: {url, ttlSec: 300} (optional)
    blockTargetPaths: true # the replica is read-only until failover
  snapshots:
    enabled: false
    schedule: (none)       # {cron: '0 3 * * *', timezone: UTC} or {intervalMin: 60, beginAt?: ISO time}
    keep: 10               # the oldest are deleted beyond this many
*/
import { posix } from 'node:path';
import { Cron } from 'croner';
import { z } from 'zod';

const MAX_HMS_SEC = 99 * 3600 + 59 * 60 + 59; // the manual's hh:mm:ss fields

/** A systemd unit name ("nginx", "nginx.service", "postgresql@16-main.service"). */
export const UnitNameSchema = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[A-Za-z0-9:_.@\\-]+$/, 'a systemd unit name uses only letters, digits and :_.@\\- (for example "nginx.service")');

/** A source address the target probes: an IPv4/IPv6 address or a DNS name. */
export const MonitorAddressSchema = z.union([
  z.ipv4(),
  z.ipv6(),
  z
    .string()
    .max(253)
    .regex(
      /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/,
      'an address is an IPv4 or IPv6 address or a host name',
    ),
], { error: 'an address is an IPv4 or IPv6 address or a host name' });

const unique = <T>(items: readonly T[], key: (item: T) => string = String) => new Set(items.map(key)).size === items.length;

export const MonitoredServiceSchema = z
  .object({
    name: UnitNameSchema,
    /** Try `systemctl restart` after each failed check; other checks pause meanwhile and a failed restart counts as a failure. */
    restart: z.boolean().default(false),
  })
  .strict();

export const FailoverMonitorSchema = z
  .object({
    mode: z.enum(['time', 'count']).default('time'),
    failoverTimeSec: z.number().int().min(1).max(MAX_HMS_SEC).default(30),
    missedCount: z.number().int().min(1).max(10_000).default(6),
    intervalSec: z.number().int().min(0).max(MAX_HMS_SEC).default(5),
    method: z.enum(['network', 'service', 'both']).default('both'),
    addresses: z.array(MonitorAddressSchema).max(64).default([])
      .refine((a) => unique(a, (x) => x.toLowerCase()), 'each monitored address may appear only once'),
    trigger: z.enum(['any', 'all']).default('all'),
    services: z.array(MonitoredServiceSchema).max(64).default([])
      .refine((s) => unique(s, (x) => x.name), 'each monitored service may appear only once'),
  })
  .strict()
  .refine((m) => m.mode !== 'time' || m.intervalSec <= m.failoverTimeSec, {
    path: ['intervalSec'],
    message: 'the monitor interval must not be longer than the failover time, or the source is declared failed during the interval',
  });
export type FailoverMonitor = z.output<typeof FailoverMonitorSchema>;
export type FailoverMonitorInput = z.input<typeof FailoverMonitorSchema>;

/** An absolute, normalised POSIX path: no "..", no "//", no NUL. */
export const AbsolutePathSchema = z
  .string()
  .min(2)
  .max(4096)
  .refine((p) => p.startsWith('/'), 'a script path must be absolute (start with "/")')
  .refine((p) => !p.includes('\0'), 'a path may not contain a NUL byte')
  .refine((p) => posix.normalize(p) === p && !p.endsWith('/'), 'a script path must be normalised: no "..", "." or repeated "/", and no trailing "/"');

export const FailoverScriptSchema = z
  .object({
    path: AbsolutePathSchema,
    args: z.array(z.string().max(4096).refine((a) => !a.includes('\0'), 'an argument may not contain a NUL byte')).max(64).default([]),
    /** Failover/failback waits for the script ("Delay until script completes"). */
    wait: z.boolean().default(true),
    /** Not in the manual: a hung script would otherwise stop failover forever. */
    timeoutSec: z.number().int().min(1).max(86_400).default(300),
    runOn: z.enum(['target', 'source']).default('target'),
  })
  .strict();
export type FailoverScript = z.output<typeof FailoverScriptSchema>;

export const FailoverScriptsSchema = z
  .object({
    preFailover: FailoverScriptSchema.optional(),
    postFailover: FailoverScriptSchema.optional(),
    preFailback: FailoverScriptSchema.optional(),
    postFailback: FailoverScriptSchema.optional(),
  })
  .strict()
  .superRefine((scripts, ctx) => {
    // Manual 2.8: only the post-failback script may run on the source.
    for (const key of ['preFailover', 'postFailover', 'preFailback'] as const) {
      if (scripts[key]?.runOn === 'source') {
        ctx.addIssue({ code: 'custom', path: [key, 'runOn'], message: `the ${key} script runs on the target; only postFailback may run on the source` });
      }
    }
  });

/** A Linux interface name (IFNAMSIZ: at most 15 characters). */
export const DeviceNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/, 'a network device is a Linux interface name of at most 15 characters, such as "eth0"');

export const MovedAddressSchema = z
  .object({
    cidr: z.union([z.cidrv4(), z.cidrv6()], { error: 'cidr must be an address with a prefix length, such as "10.0.0.5/24"' }),
    device: DeviceNameSchema,
  })
  .strict();

export const DnsHookSchema = z
  .object({
    /** Called at failover and failback to repoint the source's records (provider API or RFC 2136 gateway). */
    url: z.url({ protocol: /^https?$/, error: 'dnsHook.url must be an http(s) URL' }),
    /** The manual: "ideally 300 seconds or less". */
    ttlSec: z.number().int().min(1).max(86_400).default(300),
  })
  .strict();

export const FailoverIdentitySchema = z
  .object({
    mode: z.enum(['retain_target', 'move_addresses']).default('retain_target'),
    addresses: z.array(MovedAddressSchema).max(64).default([])
      .refine((a) => unique(a, (x) => x.cidr.split('/')[0]!.toLowerCase()), 'each address may be moved only once'),
    dnsHook: DnsHookSchema.optional(),
  })
  .strict()
  .superRefine((identity, ctx) => {
    if (identity.mode === 'move_addresses' && identity.addresses.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['addresses'], message: 'move_addresses needs at least one address to move to the target' });
    }
    if (identity.mode === 'retain_target' && identity.addresses.length > 0) {
      ctx.addIssue({ code: 'custom', path: ['addresses'], message: 'retain_target keeps the target addresses; remove the addresses or choose move_addresses' });
    }
  });

export const FailoverOptionsSchema = z
  .object({
    waitForUser: z.boolean().default(true),
    queueAction: z.enum(['apply', 'discard']).default('apply'),
    scripts: FailoverScriptsSchema.prefault({}),
    services: z.array(UnitNameSchema).max(64).default([])
      .refine((s) => unique(s), 'each failover service may appear only once'),
    identity: FailoverIdentitySchema.prefault({}),
    blockTargetPaths: z.boolean().default(true),
  })
  .strict();
export type FailoverOptions = z.output<typeof FailoverOptionsSchema>;
export type FailoverOptionsInput = z.input<typeof FailoverOptionsSchema>;

function isCron(pattern: string): boolean {
  try {
    new Cron(pattern, { paused: true });
    return true;
  } catch {
    return false;
  }
}

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export const CronScheduleSchema = z
  .object({
    cron: z.string().min(1).max(200).refine(isCron, 'cron must be a cron expression such as "0 */6 * * *"'),
    timezone: z.string().default('UTC').refine(isTimeZone, 'timezone must be an IANA zone such as "UTC" or "Europe/Berlin"'),
  })
  .strict();

export const IntervalScheduleSchema = z
  .object({
    /** Manual: days, hours or minutes; stored as minutes. */
    intervalMin: z.number().int().min(1).max(366 * 24 * 60),
    /** "Begin at"; absent = "Begin immediately". */
    beginAt: z.iso.datetime({ offset: true }).optional(),
  })
  .strict();

export const SnapshotSettingsSchema = z
  .object({
    enabled: z.boolean().default(false),
    schedule: z.union([CronScheduleSchema, IntervalScheduleSchema], {
      error: 'schedule is {cron, timezone?} or {intervalMin, beginAt?}',
    }).optional(),
    keep: z.number().int().min(1).max(1000).default(10),
  })
  .strict()
  .refine((s) => !s.enabled || s.schedule !== undefined, {
    path: ['schedule'],
    message: 'scheduled snapshots are enabled but no schedule is set; give a cron expression or an interval',
  });
export type SnapshotSettings = z.output<typeof SnapshotSettingsSchema>;
export type SnapshotSettingsInput = z.input<typeof SnapshotSettingsSchema>;

/**
 * Warnings that need both settings objects (manual 2.9): valid, but likely to surprise.
 * Returned as sentences for the job validation page.
 */
export function failoverSettingsWarnings(monitor: FailoverMonitor, options: FailoverOptions): string[] {
  const warnings: string[] = [];
  const monitored = new Set(monitor.addresses.map((a) => a.toLowerCase()));
  const moved = options.identity.mode === 'move_addresses' ? options.identity.addresses.map((a) => a.cidr.split('/')[0]!.toLowerCase()) : [];
  const unmonitored = moved.filter((ip) => !monitored.has(ip));
  if (monitor.trigger === 'all' && unmonitored.length > 0) {
    warnings.push(
      `Addresses ${unmonitored.join(', ')} move to the target at failover but are not monitored; with trigger "all" ` +
        'one of them may still be alive on the source, giving an address conflict.',
    );
  }
  if (options.identity.dnsHook && options.identity.dnsHook.ttlSec > 300) {
    warnings.push(`The DNS TTL is ${options.identity.dnsHook.ttlSec} s; clients may keep the old address that long (300 s or less is advised).`);
  }
  if (monitor.addresses.length === 0 && monitor.services.length === 0) {
    warnings.push('The failover monitor watches no address and no service, so a failed source is never detected.');
  }
  if (!options.waitForUser && options.queueAction === 'discard') {
    warnings.push('Automatic failover discards the target queue: data received but not yet applied is lost at failover.');
  }
  return warnings;
}
