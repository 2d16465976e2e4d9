import { describe, expect, it } from 'vitest';
import { eventByName } from '../../shared/events/catalog';
import { planDeliveries } from './plan';
import { emailContent, slackPayload, standardPayload, teamsPayload } from './payloads';
import type { EventView } from '../../shared/events/types';

const ev = (n: string) => eventByName(n)!;
const email = { enabled: true, filter: {}, recipients: ['a@example.com'] };

describe('planDeliveries', () => {
  it('sends to the enabled channels whose filters accept the event', () => {
    const targets = { email, webhooks: [{ id: 'w1', enabled: true, filter: {} }, { id: 'w2', enabled: false, filter: {} }, { id: 'w3', enabled: true, filter: { severities: ['error' as const] } }] };
    expect(planDeliveries(ev('job.started'), targets)).toEqual([{ channel: 'email', endpointId: null }, { channel: 'webhook', endpointId: 'w1' }]);
    expect(planDeliveries(ev('failover.failed'), targets).map((p) => p.endpointId)).toEqual([null, 'w1', 'w3']);
  });
  it('does not e-mail e-mail failures (no loop), nor send with e-mail off or without recipients', () => {
    expect(planDeliveries(ev('notify.email_failed'), { email, webhooks: [] })).toEqual([]);
    expect(planDeliveries(ev('job.started'), { email: { ...email, enabled: false }, webhooks: [] })).toEqual([]);
    expect(planDeliveries(ev('job.started'), { email: null, webhooks: [] })).toEqual([]);
  });
});

const view: EventView = {
  id: 'evt_1', type: 'job.lag_above_threshold', typeId: 2210, severity: 'warning', message: 'Replication lag of job web is 90 s, above its threshold of 60 s.',
  orgId: 'org_default', jobId: 'job_1', serverId: null, fields: { lagSec: 90, thresholdSec: 60 }, dedupKey: 'job_1:job.lag_above_threshold',
  count: 3, resolves: null, firstAt: '2025-01-01T00:00:00.000Z', lastAt: '2025-01-01T00:02:00.000Z',
};

describe('payloads', () => {
  it('Standard Webhooks envelope is {type, timestamp, data}', () => {
    expect(standardPayload(view)).toEqual({ type: 'job.lag_above_threshold', timestamp: view.lastAt, data: view });
  });
  it('collapsed counts show in every format', () => {
    expect(slackPayload(view).text).toContain('(×3)');
    expect(JSON.stringify(teamsPayload(view))).toContain('3 since 2025-01-01T00:00:00.000Z');
    expect(emailContent(view, { subjectPrefix: '[T]', includeText: true }).subject).toBe('[T] [WARNING] Replication lag of job web is 90 s, above its threshold of 60 s. (×3)');
  });
  it('e-mail subjects are one line whatever the fields hold', () => {
    const nasty = { ...view, message: 'a\r\nBcc: x@example.com' };
    expect(emailContent(nasty, { subjectPrefix: '', includeText: false }).subject).not.toMatch(/[\r\n]/);
  });
});
