import { describe, expect, it } from 'vitest';
import { FailoverMonitorSchema, type FailoverMonitorInput } from '../../shared/jobs/failover-settings';
import { decideAction, decideFailover, shouldFenceSource, type MonitorProbe, type ProbeMethod } from './decide';

const S = 1000;
const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);
const at = (sec: number) => T0 + sec * S;

const monitor = (overrides: FailoverMonitorInput = {}) =>
  FailoverMonitorSchema.parse({ addresses: ['10.0.0.5'], method: 'network', intervalSec: 1, failoverTimeSec: 30, ...overrides });

/** One probe per `everySec` from `fromSec` to `toSec` inclusive; ok while `isUp(t)`. */
function probes(target: string, method: ProbeMethod, fromSec: number, toSec: number, isUp: (t: number) => boolean, everySec = 1): MonitorProbe[] {
  const out: MonitorProbe[] = [];
  for (let t = fromSec; t <= toSec; t += everySec) out.push({ at: at(t), method, target, ok: isUp(t) });
  return out;
}

/** The source dies at `deathSec`: it answers probes and polls the hub up to and including that second. */
function sourceDiesAt(deathSec: number, nowSec: number, overrides: FailoverMonitorInput = {}) {
  return decideFailover({
    monitor: monitor(overrides),
    probes: probes('10.0.0.5', 'network', 0, nowSec, (t) => t <= deathSec),
    sourceLastPollAt: at(deathSec),
    hubStartedAt: at(-3600),
    now: at(nowSec),
  });
}

describe('decideFailover: time mode', () => {
  it('meets the condition exactly failoverTimeSec after the source died, not a second before', () => {
    expect(sourceDiesAt(100, 129).conditionMet).toBe(false);
    const met = sourceDiesAt(100, 130);
    expect(met.conditionMet).toBe(true);
    expect(met.window).toMatchObject({ mode: 'time', startAt: at(100), durationSec: 30, targetRuleFired: true, sourceSilentSec: 30 });
    expect(sourceDiesAt(100, 131).conditionMet).toBe(true);
  });

  it('waits for the later of the two signals', () => {
    // Probes fail from t=101 on, but the source polled the hub at t=110 (alive, only the agents' link is down).
    const decide = (nowSec: number) =>
      decideFailover({
        monitor: monitor(),
        probes: probes('10.0.0.5', 'network', 0, nowSec, (t) => t <= 100),
        sourceLastPollAt: at(110),
        hubStartedAt: at(-3600),
        now: at(nowSec),
      });
    expect(decide(130).window.targetRuleFired).toBe(true);
    expect(decide(139).conditionMet).toBe(false);
    expect(decide(140).conditionMet).toBe(true);
  });

  it('does not fail over on a partition between the agents while the source keeps polling the hub', () => {
    const d = decideFailover({
      monitor: monitor(),
      probes: probes('10.0.0.5', 'network', 0, 600, (t) => t < 10),
      sourceLastPollAt: at(598),
      hubStartedAt: at(-3600),
      now: at(600),
    });
    expect(d.window.targetRuleFired).toBe(true);
    expect(d.conditionMet).toBe(false);
    expect(d.reasons.join('\n')).toMatch(/polled the hub 2 s ago.*network partition/);
  });

  it('does not fail over when the hub has no reports at all (hub or target agent down)', () => {
    const d = decideFailover({ monitor: monitor(), probes: [], sourceLastPollAt: at(0), hubStartedAt: at(-3600), now: at(600) });
    expect(d.conditionMet).toBe(false);
    expect(d.window.targetRuleFired).toBe(false);
    expect(d.reasons.join('\n')).toMatch(/no reports/);
  });

  it('does not judge with stale reports: the target stopped reporting a while ago', () => {
    const d = decideFailover({
      monitor: monitor(),
      probes: probes('10.0.0.5', 'network', 0, 100, (t) => t < 10),
      sourceLastPollAt: at(5),
      hubStartedAt: at(-3600),
      now: at(300),
    });
    expect(d.conditionMet).toBe(false);
    expect(d.reasons.join('\n')).toMatch(/too old to judge/);
  });

  it('a hub that just restarted does not declare a source dead until it has been up for the window', () => {
    // Source polled the previous hub process long ago; probes (uploaded by the target) all missed.
    const input = (hubUpSec: number) => ({
      monitor: monitor(),
      probes: probes('10.0.0.5', 'network', 0, 1000, () => false),
      sourceLastPollAt: at(0),
      hubStartedAt: at(1000 - hubUpSec),
      now: at(1000),
    });
    const justStarted = decideFailover(input(5));
    expect(justStarted.conditionMet).toBe(false);
    expect(justStarted.reasons.join('\n')).toMatch(/hub has been up 5 s/);
    expect(decideFailover(input(29)).conditionMet).toBe(false);
    expect(decideFailover(input(30)).conditionMet).toBe(true);
  });

  it('a hub that never saw the source poll counts silence from its own start', () => {
    const input = (hubUpSec: number) => ({
      monitor: monitor(),
      probes: probes('10.0.0.5', 'network', 0, 1000, () => false),
      sourceLastPollAt: null,
      hubStartedAt: at(1000 - hubUpSec),
      now: at(1000),
    });
    expect(decideFailover(input(10)).conditionMet).toBe(false);
    expect(decideFailover(input(60)).conditionMet).toBe(true);
  });

  it('needs monitoring history covering the whole window', () => {
    const d = decideFailover({
      monitor: monitor(),
      probes: probes('10.0.0.5', 'network', 990, 1000, () => false),
      sourceLastPollAt: null,
      hubStartedAt: at(0),
      now: at(1000),
    });
    expect(d.conditionMet).toBe(false);
    expect(d.reasons.join('\n')).toMatch(/monitored for only 10 s/);
  });

  it('a single answer inside the window clears the target signal', () => {
    const d = decideFailover({
      monitor: monitor(),
      probes: probes('10.0.0.5', 'network', 0, 200, (t) => t === 190),
      sourceLastPollAt: at(0),
      hubStartedAt: at(-3600),
      now: at(200),
    });
    expect(d.window.targetRuleFired).toBe(false);
    expect(d.conditionMet).toBe(false);
  });

  it('never fires when the monitor watches nothing', () => {
    const d = decideFailover({ monitor: monitor({ addresses: [] }), probes: [], sourceLastPollAt: null, hubStartedAt: at(-3600), now: at(600) });
    expect(d.conditionMet).toBe(false);
    expect(d.reasons.join('\n')).toMatch(/watches no address and no service/);
  });
});

describe('decideFailover: count mode', () => {
  const countMonitor = monitor({ mode: 'count', missedCount: 3, intervalSec: 5 });
  const decide = (list: MonitorProbe[], lastPollSec: number, nowSec: number) =>
    decideFailover({ monitor: countMonitor, probes: list, sourceLastPollAt: at(lastPollSec), hubStartedAt: at(-3600), now: at(nowSec) });

  it('fires after missedCount consecutive misses, not before', () => {
    const up = (t: number) => t <= 100;
    expect(decide(probes('10.0.0.5', 'network', 0, 110, up, 5), 100, 111).conditionMet).toBe(false); // 2 misses
    const met = decide(probes('10.0.0.5', 'network', 0, 115, up, 5), 100, 116);
    expect(met.conditionMet).toBe(true);
    expect(met.window).toMatchObject({ mode: 'count', startAt: at(105), durationSec: 11 });
  });

  it('an answer in between resets the count', () => {
    const list = probes('10.0.0.5', 'network', 0, 120, (t) => t <= 100 || t === 110, 5); // miss, ok, miss, miss
    expect(decide(list, 100, 121).conditionMet).toBe(false);
  });

  it('the source must have been silent since the first of the counted misses', () => {
    const list = probes('10.0.0.5', 'network', 0, 115, (t) => t <= 100, 5);
    expect(decide(list, 107, 116).conditionMet).toBe(false);
  });
});

describe('decideFailover: several addresses and methods', () => {
  const twoAddresses = (trigger: 'any' | 'all') =>
    decideFailover({
      monitor: monitor({ addresses: ['10.0.0.5', '192.168.1.5'], trigger }),
      probes: [
        ...probes('10.0.0.5', 'network', 0, 200, (t) => t < 100),
        ...probes('192.168.1.5', 'network', 0, 200, () => true),
      ],
      sourceLastPollAt: at(99),
      hubStartedAt: at(-3600),
      now: at(200),
    });

  it('trigger "any": one failed address is enough', () => {
    expect(twoAddresses('any').conditionMet).toBe(true);
  });

  it('trigger "all": one address still answering keeps the job protected', () => {
    const d = twoAddresses('all');
    expect(d.conditionMet).toBe(false);
    expect(d.reasons.join('\n')).toMatch(/1 of 2 monitored addresses failed/);
  });

  it('method "both": an address fails only when network and service probes both fail', () => {
    const run = (serviceUp: boolean) =>
      decideFailover({
        monitor: monitor({ method: 'both' }),
        probes: [
          ...probes('10.0.0.5', 'network', 0, 200, (t) => t < 100),
          ...probes('10.0.0.5', 'service', 0, 200, (t) => serviceUp || t < 100),
        ],
        sourceLastPollAt: at(99),
        hubStartedAt: at(-3600),
        now: at(200),
      });
    expect(run(true).conditionMet).toBe(false);
    expect(run(false).conditionMet).toBe(true);
  });

  it('any failed monitored service fires the monitor (while the source is also silent)', () => {
    const d = decideFailover({
      monitor: monitor({ addresses: [], services: [{ name: 'nginx.service' }, { name: 'postgresql.service' }] }),
      probes: [
        ...probes('nginx.service', 'services', 0, 200, () => true),
        ...probes('postgresql.service', 'services', 0, 200, (t) => t < 100),
      ],
      sourceLastPollAt: at(99),
      hubStartedAt: at(-3600),
      now: at(200),
    });
    expect(d.conditionMet).toBe(true);
    expect(d.reasons.join('\n')).toMatch(/service postgresql.service: no answer/);
  });

  it('ignores reports stamped after now', () => {
    const d = decideFailover({
      monitor: monitor(),
      probes: [...probes('10.0.0.5', 'network', 0, 200, (t) => t < 100), { at: at(250), method: 'network', target: '10.0.0.5', ok: true }],
      sourceLastPollAt: at(99),
      hubStartedAt: at(-3600),
      now: at(200),
    });
    expect(d.conditionMet).toBe(true);
  });

  it('minSourceSilenceSec stretches a very short window to the agents\' polling cadence', () => {
    const base = {
      monitor: monitor({ failoverTimeSec: 3 }),
      probes: probes('10.0.0.5', 'network', 0, 200, (t) => t < 195),
      sourceLastPollAt: at(195),
      hubStartedAt: at(-3600),
      now: at(200),
    };
    expect(decideFailover(base).conditionMet).toBe(true);
    expect(decideFailover({ ...base, minSourceSilenceSec: 10 }).conditionMet).toBe(false);
  });
});

describe('decideAction', () => {
  it.each([
    ['protecting', true, true, 'mark_condition_met'],
    ['protecting', true, false, 'order_failover'],
    ['paused', true, false, 'order_failover'],
    ['mirroring', true, false, 'mark_condition_met'], // incomplete replica: an operator decides
    ['stopped', true, false, 'mark_condition_met'],
    ['stopped', true, true, 'mark_condition_met'],
    ['error', true, true, 'mark_condition_met'],
    ['failover_condition_met', true, true, 'none'],
    ['failover_condition_met', true, false, 'none'],
    ['failover_condition_met', false, true, 'clear_condition'],
    ['protecting', false, false, 'none'],
    ['failing_over', true, false, 'none'],
    ['failed_over', true, false, 'none'],
    ['restore_required', true, false, 'none'],
    ['mirror_required', true, true, 'none'],
  ] as const)('%s, conditionMet=%s, waitForUser=%s → %s', (state, met, wait, action) => {
    expect(decideAction(state, met, wait)).toBe(action);
  });
});

describe('shouldFenceSource', () => {
  const base = { agentStartedAt: at(0), windowSec: 30, marginSec: 0 };

  it('keeps sending while the hub is reachable, even if the target is not', () => {
    expect(shouldFenceSource({ ...base, now: at(1000), lastHubContactAt: at(998), lastTargetContactAt: at(100) }).fence).toBe(false);
  });

  it('keeps sending while the target is reachable, even if the hub is not (hub outage is not a failure)', () => {
    expect(shouldFenceSource({ ...base, now: at(1000), lastHubContactAt: at(100), lastTargetContactAt: at(999) }).fence).toBe(false);
  });

  it('fences once it has reached neither for the window', () => {
    const input = { ...base, lastHubContactAt: at(500), lastTargetContactAt: at(490) };
    expect(shouldFenceSource({ ...input, now: at(529) }).fence).toBe(false);
    const d = shouldFenceSource({ ...input, now: at(530) });
    expect(d.fence).toBe(true);
    expect(d.isolatedSec).toBe(30);
    expect(d.reason).toMatch(/neither the hub nor the target/);
  });

  it('by default fences a little before the window ends, ahead of any takeover', () => {
    const input = { agentStartedAt: at(0), windowSec: 30, lastHubContactAt: at(500), lastTargetContactAt: at(500) };
    expect(shouldFenceSource({ ...input, now: at(524) }).fence).toBe(false);
    expect(shouldFenceSource({ ...input, now: at(525) }).fence).toBe(true);
  });

  it('a source that starts inside a partition counts from its own start', () => {
    expect(shouldFenceSource({ ...base, now: at(20), lastHubContactAt: null, lastTargetContactAt: null }).fence).toBe(false);
    expect(shouldFenceSource({ ...base, now: at(30), lastHubContactAt: null, lastTargetContactAt: null }).fence).toBe(true);
  });
});
