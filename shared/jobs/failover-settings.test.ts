import { describe, expect, it } from 'vitest';
import {
  FailoverMonitorSchema,
  FailoverOptionsSchema,
  SnapshotSettingsSchema,
  failoverSettingsWarnings,
} from './failover-settings';

const issues = (r: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } }) =>
  (r.error?.issues ?? []).map((i) => `${i.path.join('.')}: ${i.message}`).join('\n');

describe('FailoverMonitorSchema', () => {
  it('fills the documented defaults', () => {
    expect(FailoverMonitorSchema.parse({})).toEqual({
      mode: 'time', failoverTimeSec: 30, missedCount: 6, intervalSec: 5, method: 'both',
      addresses: [], trigger: 'all', services: [],
    });
  });

  it('accepts a full count-mode monitor with addresses and services', () => {
    const m = FailoverMonitorSchema.parse({
      mode: 'count', missedCount: 20, intervalSec: 0, method: 'network', trigger: 'any',
      addresses: ['10.0.0.5', 'fd00::5', 'db1.example.com'],
      services: [{ name: 'postgresql@16-main.service', restart: true }, { name: 'nginx' }],
    });
    expect(m.services[1]).toEqual({ name: 'nginx', restart: false });
  });

  it('rejects unknown fields', () => {
    expect(FailoverMonitorSchema.safeParse({ failoverTime: 30 }).success).toBe(false);
    expect(FailoverMonitorSchema.safeParse({ services: [{ name: 'x', restartt: true }] }).success).toBe(false);
  });

  it.each([
    [{ failoverTimeSec: 0 }, 'failoverTimeSec'],
    [{ failoverTimeSec: 1.5 }, 'failoverTimeSec'],
    [{ missedCount: 0 }, 'missedCount'],
    [{ intervalSec: -1 }, 'intervalSec'],
    [{ method: 'icmp' }, 'method'],
    [{ trigger: 'some' }, 'trigger'],
    [{ addresses: ['not an address!'] }, 'addresses.0'],
    [{ addresses: ['10.0.0.5', '10.0.0.5'] }, 'addresses'],
    [{ services: [{ name: 'rm -rf /' }] }, 'services.0.name'],
    [{ services: [{ name: 'a' }, { name: 'a' }] }, 'services'],
  ])('rejects %j', (input, path) => {
    const r = FailoverMonitorSchema.safeParse(input);
    expect(r.success).toBe(false);
    expect(issues(r)).toContain(`${path}:`);
  });

  it('in time mode rejects an interval longer than the failover time (manual 2.7)', () => {
    const r = FailoverMonitorSchema.safeParse({ failoverTimeSec: 10, intervalSec: 11 });
    expect(issues(r)).toMatch(/intervalSec: the monitor interval must not be longer than the failover time/);
    expect(FailoverMonitorSchema.safeParse({ mode: 'count', failoverTimeSec: 10, intervalSec: 11 }).success).toBe(true);
  });
});

describe('FailoverOptionsSchema', () => {
  it('fills the documented defaults: wait for the user, apply the queue, keep the target identity, block replica paths', () => {
    expect(FailoverOptionsSchema.parse({})).toEqual({
      waitForUser: true,
      queueAction: 'apply',
      scripts: {},
      services: [],
      identity: { mode: 'retain_target', addresses: [] },
      blockTargetPaths: true,
    });
  });

  it('fills script defaults and accepts a post-failback script on the source', () => {
    const o = FailoverOptionsSchema.parse({
      scripts: {
        preFailover: { path: '/opt/tandem/stop-standby.sh' },
        postFailback: { path: '/usr/local/bin/notify', args: ['--to', 'ops'], wait: false, timeoutSec: 60, runOn: 'source' },
      },
    });
    expect(o.scripts.preFailover).toEqual({ path: '/opt/tandem/stop-standby.sh', args: [], wait: true, timeoutSec: 300, runOn: 'target' });
    expect(o.scripts.postFailback?.runOn).toBe('source');
  });

  it('only the post-failback script may run on the source', () => {
    const r = FailoverOptionsSchema.safeParse({ scripts: { preFailback: { path: '/x/y.sh', runOn: 'source' } } });
    expect(issues(r)).toMatch(/scripts.preFailback.runOn: .*only postFailback may run on the source/);
  });

  it.each(['relative/script.sh', '/opt/../etc/passwd', '/opt//x.sh', '/opt/dir/', '/'])('rejects script path %j', (path) => {
    expect(FailoverOptionsSchema.safeParse({ scripts: { postFailover: { path } } }).success).toBe(false);
  });

  it('rejects a non-positive script timeout and unknown script kinds', () => {
    expect(FailoverOptionsSchema.safeParse({ scripts: { preFailover: { path: '/a.sh', timeoutSec: 0 } } }).success).toBe(false);
    expect(FailoverOptionsSchema.safeParse({ scripts: { midFailover: { path: '/a.sh' } } }).success).toBe(false);
  });

  it('moves addresses given in CIDR form onto a device', () => {
    const o = FailoverOptionsSchema.parse({
      identity: {
        mode: 'move_addresses',
        addresses: [{ cidr: '10.0.0.5/24', device: 'eth0' }, { cidr: 'fd00::5/64', device: 'ens3' }],
        dnsHook: { url: 'https://dns.example.com/update' },
      },
    });
    expect(o.identity.dnsHook).toEqual({ url: 'https://dns.example.com/update', ttlSec: 300 });
  });

  it.each([
    [{ mode: 'move_addresses', addresses: [] }, /move_addresses needs at least one address/],
    [{ mode: 'retain_target', addresses: [{ cidr: '10.0.0.5/24', device: 'eth0' }] }, /retain_target keeps the target addresses/],
    [{ mode: 'move_addresses', addresses: [{ cidr: '10.0.0.5', device: 'eth0' }] }, /such as "10.0.0.5\/24"/],
    [{ mode: 'move_addresses', addresses: [{ cidr: '10.0.0.5/33', device: 'eth0' }] }, /cidr/],
    [{ mode: 'move_addresses', addresses: [{ cidr: '10.0.0.5/24', device: 'a-very-long-interface-name' }] }, /device/],
    [{ mode: 'move_addresses', addresses: [{ cidr: '10.0.0.5/24', device: 'eth0' }, { cidr: '10.0.0.5/16', device: 'eth1' }] }, /moved only once/],
    [{ dnsHook: { url: 'ftp://dns.example.com' } }, /http\(s\) URL/],
  ])('rejects identity %j', (identity, message) => {
    expect(issues(FailoverOptionsSchema.safeParse({ identity }))).toMatch(message);
  });

  it('rejects unknown fields and bad service names', () => {
    expect(FailoverOptionsSchema.safeParse({ failoverShares: true }).success).toBe(false);
    expect(FailoverOptionsSchema.safeParse({ identity: { mode: 'retain_target', hostname: 'x' } }).success).toBe(false);
    expect(FailoverOptionsSchema.safeParse({ services: ['nginx', 'nginx'] }).success).toBe(false);
    expect(FailoverOptionsSchema.safeParse({ queueAction: 'drop' }).success).toBe(false);
  });
});

describe('SnapshotSettingsSchema', () => {
  it('is off with keep 10 by default', () => {
    expect(SnapshotSettingsSchema.parse({})).toEqual({ enabled: false, keep: 10 });
  });

  it('accepts a cron or an interval schedule', () => {
    expect(SnapshotSettingsSchema.parse({ enabled: true, schedule: { cron: '0 */6 * * *' } }).schedule).toEqual({ cron: '0 */6 * * *', timezone: 'UTC' });
    expect(SnapshotSettingsSchema.parse({ enabled: true, schedule: { intervalMin: 90, beginAt: '2025-01-01T03:00:00Z' } }).schedule)
      .toEqual({ intervalMin: 90, beginAt: '2025-01-01T03:00:00Z' });
  });

  it.each([
    [{ enabled: true }, /no schedule is set/],
    [{ schedule: { cron: 'every day' } }, /cron expression/],
    [{ schedule: { cron: '0 3 * * *', timezone: 'Mars/Olympus' } }, /IANA zone/],
    [{ schedule: { intervalMin: 0 } }, /intervalMin/],
    [{ schedule: { intervalMin: 10, cron: '* * * * *' } }, /schedule/],
    [{ keep: 0 }, /keep/],
    [{ enabled: true, schedule: { intervalMin: 5 }, retention: 3 }, /retention/],
  ])('rejects %j', (input, message) => {
    expect(issues(SnapshotSettingsSchema.safeParse(input))).toMatch(message);
  });
});

describe('failoverSettingsWarnings', () => {
  it('warns when trigger "all" moves addresses it does not monitor (manual 2.9)', () => {
    const monitor = FailoverMonitorSchema.parse({ addresses: ['10.0.0.5', '10.0.0.6'], trigger: 'all' });
    const options = FailoverOptionsSchema.parse({
      identity: { mode: 'move_addresses', addresses: ['10.0.0.5', '10.0.0.6', '10.0.0.7'].map((ip) => ({ cidr: `${ip}/24`, device: 'eth0' })) },
    });
    const warnings = failoverSettingsWarnings(monitor, options);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/10\.0\.0\.7 .*address conflict/);
  });

  it('warns about a monitor that watches nothing and about automatic failover that discards the queue', () => {
    const warnings = failoverSettingsWarnings(FailoverMonitorSchema.parse({}), FailoverOptionsSchema.parse({ waitForUser: false, queueAction: 'discard' }));
    expect(warnings.join('\n')).toMatch(/watches no address and no service/);
    expect(warnings.join('\n')).toMatch(/discards the target queue/);
  });
});
