// Stored events: raise → GET /v1/events with filters, dedup with counts, resolutions, retention, agent lifecycle events.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { inProcessHub, testClock } from './support/in-process-hub';
import { pruneEvents } from '../hub/events/store';
import { retentionCutoff } from '../hub/events';
import { sweepOfflineAgents } from '../hub/events/agent-watch';

const FP = Array.from({ length: 32 }, () => 'AB').join(':');
const host = (name: string) => ({
  name, hostname: `${name}.local`, machineId: `m-${name}`, os: 'Linux', agentVersion: '0.1.0', addresses: ['127.0.0.1'],
  dataPort: 6325, filesystems: { '/data': 'ext4' }, certFingerprint: FP,
});

let hub: Awaited<ReturnType<typeof inProcessHub>>;
beforeEach(async () => { hub = await inProcessHub({ clock: testClock(Date.parse('2025-03-01T12:00:00Z')) }); });
afterEach(() => hub.close());

const org = 'org_default';

describe('GET /v1/events', () => {
  it('lists raised events with rendered messages, filtered by severity, job, server, type and since', async () => {
    const { events } = hub.deps;
    events.raise({ event: 'job.started', orgId: org, jobId: 'job_a', fields: { jobName: 'web' } });
    hub.clock.advance(1000);
    events.raise({ event: 'job.failover_condition_met', orgId: org, jobId: 'job_a', fields: { jobName: 'web', reason: 'source not answering for 30 s' } });
    hub.clock.advance(1000);
    events.raise({ event: 'licence.expiring', orgId: org, fields: { licenceId: 'lic_1', daysLeft: 7, expiresAt: '2025-03-08' } });
    events.raise({ event: 'agent.clock_skew', orgId: org, serverId: 'srv_1', fields: { serverName: 'db', skewMs: 45000, limitMs: 30000 } });
    await events.flush();

    const all = await hub.call('GET', '/v1/events');
    expect(all.status).toBe(200);
    expect(all.body.items.map((e: any) => e.type)).toEqual(['job.started', 'job.failover_condition_met', 'licence.expiring', 'agent.clock_skew']);
    const fo = all.body.items[1];
    expect(fo).toMatchObject({ typeId: 3001, severity: 'error', jobId: 'job_a', count: 1, message: 'A failover condition of job web is met: source not answering for 30 s.' });
    expect(fo.dedupKey).toBe('job_a:job.failover_condition_met');

    const bad = await hub.call('GET', '/v1/events?severity=warning');
    expect(bad.body.items.map((e: any) => e.type)).toEqual(['job.failover_condition_met', 'licence.expiring', 'agent.clock_skew']);
    expect((await hub.call('GET', '/v1/events?job=job_a')).body.items).toHaveLength(2);
    expect((await hub.call('GET', '/v1/events?server=srv_1')).body.items.map((e: any) => e.type)).toEqual(['agent.clock_skew']);
    expect((await hub.call('GET', '/v1/events?type=licence.expiring')).body.items).toHaveLength(1);
    expect((await hub.call('GET', '/v1/events?since=2025-03-01T12:00:01.500Z')).body.items).toHaveLength(2);
    expect((await hub.call('GET', '/v1/events?since=1s')).body.items).toHaveLength(3); // from 12:00:01 inclusive
  });

  it('refuses bad queries with 400 and a clear code', async () => {
    expect((await hub.call('GET', '/v1/events?since=yesterday-ish')).body.error.code).toBe('invalid_since');
    expect((await hub.call('GET', '/v1/events?severity=fatal')).status).toBe(400);
    expect((await hub.call('GET', '/v1/events?type=job.exploded')).body.error.code).toBe('unknown_event_type');
    expect((await hub.call('GET', '/v1/events?limit=100000')).status).toBe(400);
    expect((await hub.call('GET', '/v1/events?nonsense=1')).status).toBe(400);
    expect((await hub.call('GET', '/v1/events', undefined, null)).status).toBe(401);
  });

  it('serves the catalog', async () => {
    const r = await hub.call('GET', '/v1/events/catalog');
    expect(r.body.items.find((d: any) => d.name === 'job.failover_condition_met')).toMatchObject({ id: 3001, severity: 'error' });
  });

  it('events are per org', async () => {
    hub.deps.events.raise({ event: 'job.started', orgId: 'org_other', jobId: 'job_x' });
    await hub.deps.events.flush();
    expect((await hub.call('GET', '/v1/events')).body.items).toHaveLength(0);
  });
});

describe('dedup and flap control', () => {
  it('identical events within the window collapse into one with a count; after the window a new one starts', async () => {
    const { events } = hub.deps;
    for (let i = 0; i < 4; i++) {
      events.raise({ event: 'job.lag_above_threshold', orgId: org, jobId: 'job_a', fields: { jobName: 'web', lagSec: 60 + i, thresholdSec: 30 } });
      hub.clock.advance(30_000);
    }
    await events.flush();
    let items = (await hub.call('GET', '/v1/events')).body.items;
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ count: 4, fields: { lagSec: 63 } });
    expect(Date.parse(items[0].lastAt) - Date.parse(items[0].firstAt)).toBe(90_000);

    hub.clock.advance(5 * 60_000);
    events.raise({ event: 'job.lag_above_threshold', orgId: org, jobId: 'job_a', fields: { jobName: 'web', lagSec: 99, thresholdSec: 30 } });
    await events.flush();
    items = (await hub.call('GET', '/v1/events')).body.items;
    expect(items.map((e: any) => e.count)).toEqual([4, 1]);
  });

  it('a resolution carries the problem’s dedup key, and the problem coming back is a new event', async () => {
    const { events } = hub.deps;
    events.raise({ event: 'job.lag_above_threshold', orgId: org, jobId: 'job_a', fields: { lagSec: 60, thresholdSec: 30 } });
    events.raise({ event: 'job.lag_below_threshold', orgId: org, jobId: 'job_a', fields: { lagSec: 2, thresholdSec: 30 } });
    events.raise({ event: 'job.lag_above_threshold', orgId: org, jobId: 'job_a', fields: { lagSec: 61, thresholdSec: 30 } });
    await events.flush();
    const items = (await hub.call('GET', '/v1/events')).body.items;
    expect(items.map((e: any) => [e.type, e.count, e.resolves])).toEqual([
      ['job.lag_above_threshold', 1, null], ['job.lag_below_threshold', 1, 'job.lag_above_threshold'], ['job.lag_above_threshold', 1, null],
    ]);
    expect(new Set(items.map((e: any) => e.dedupKey))).toEqual(new Set(['job_a:job.lag_above_threshold']));
  });
});

describe('retention', () => {
  it('events older than the retention are pruned, newer ones kept', async () => {
    const { events } = hub.deps;
    events.raise({ event: 'job.started', orgId: org, jobId: 'old' });
    await events.flush();
    hub.clock.advance(31 * 86_400_000);
    events.raise({ event: 'job.started', orgId: org, jobId: 'new' });
    await events.flush();
    expect(await pruneEvents(hub.deps.db, retentionCutoff(hub.clock.now(), 30))).toBe(1);
    expect((await hub.call('GET', '/v1/events')).body.items.map((e: any) => e.jobId)).toEqual(['new']);
  });
});

describe('events from the agent channel', () => {
  it('enrolment, going offline, coming back and clock skew raise agent events', async () => {
    const t = (await hub.call('POST', '/v1/agent-tokens', {})).body.token;
    const agent = (await hub.call('POST', '/v1/agent/enrol', { configToken: t, host: host('web1') }, null)).body;
    await hub.call('POST', '/v1/agent/poll', { agentTime: hub.clock.now(), agentVersion: '0.1.0' }, agent.credential);
    hub.clock.advance(10 * 60_000);
    await sweepOfflineAgents(hub.deps.db, hub.clock.now(), hub.deps.events);
    await hub.deps.events.flush();
    await sweepOfflineAgents(hub.deps.db, hub.clock.now(), hub.deps.events); // reported once only
    await hub.call('POST', '/v1/agent/poll', { agentTime: hub.clock.now() + 120_000, agentVersion: '0.1.0' }, agent.credential);
    await hub.call('POST', '/v1/agent/poll', { agentTime: hub.clock.now() + 100, agentVersion: '0.1.0' }, agent.credential);
    await hub.deps.events.flush();
    const items = (await hub.call(`GET`, `/v1/events?server=${agent.serverId}`)).body.items;
    expect(items.map((e: any) => e.type)).toEqual(['agent.enrolled', 'agent.offline', 'agent.online', 'agent.clock_skew', 'agent.clock_skew_resolved']);
    expect(items[0].message).toBe('Server web1 (web1.local) enrolled with the hub.');
  });
});
