// The failover decision engine: pure functions over the target's probe reports, the source's polls and the clock.
// Two independent signals (pg_auto_failover): the target cannot reach the source AND the source has stopped polling the hub.
import type { FailoverMonitor } from '../../shared/jobs/failover-settings';
import { legalCommands, type JobState } from '../../shared/jobs/job-state';

/** network = ICMP/TCP ping of an address; service = the source agent's health endpoint at an address; services = a systemd unit. */
export type ProbeMethod = 'network' | 'service' | 'services';

export interface MonitorProbe {
  /** ms since epoch, on the hub's clock (the hub stamps reports as they arrive, or corrects for skew). */
  at: number;
  method: ProbeMethod;
  /** The probed address (network, service) or unit name (services). */
  target: string;
  ok: boolean;
}

export interface DecideFailoverInput {
  monitor: FailoverMonitor;
  /** The target agent's probe results for this job, any order. Results after `now` are ignored. */
  probes: readonly MonitorProbe[];
  /** When the source agent last polled this hub (ms), or null if it never has. */
  sourceLastPollAt: number | null;
  /** When this hub process started (ms): it can vouch for the source's silence only since then. */
  hubStartedAt: number;
  now: number;
  /** Reports older than this prove nothing about the present. Default: max(15 s, 3 × intervalSec). */
  probeStaleAfterSec?: number;
  /** A floor on the source's silence, e.g. 2 × the agents' poll interval, for very short windows. Default 0. */
  minSourceSilenceSec?: number;
}

export interface FailoverWindow {
  mode: FailoverMonitor['mode'];
  /** Since when the monitor rule has had to hold (time mode: now − failoverTimeSec); null if it does not hold. */
  startAt: number | null;
  durationSec: number | null;
  targetRuleFired: boolean;
  /** How long the source has not polled, as far as this hub can tell (null: never seen polling). */
  sourceSilentSec: number | null;
  hubUptimeSec: number;
}

export interface FailoverDecision {
  conditionMet: boolean;
  /** Sentences for the job log and the notification, whichever way the decision went. */
  reasons: string[];
  window: FailoverWindow;
}

interface ChannelVerdict {
  failed: boolean;
  /** Since when this channel has been failing, when failed. */
  since?: number;
  why: string;
}

const sec = (ms: number) => Math.round(ms / 100) / 10;

export function decideFailover(input: DecideFailoverInput): FailoverDecision {
  const { monitor, now, hubStartedAt } = input;
  const staleAfterMs = (input.probeStaleAfterSec ?? Math.max(15, 3 * monitor.intervalSec)) * 1000;
  const probes = input.probes.filter((p) => p.at <= now).sort((a, b) => a.at - b.at);
  const reasons: string[] = [];

  const channel = (method: ProbeMethod, target: string): ChannelVerdict => {
    const history = probes.filter((p) => p.method === method && p.target === target);
    const name = method === 'services' ? `service ${target}` : `${method} probes to ${target}`;
    return monitor.mode === 'time'
      ? timeVerdict(name, history, now, monitor.failoverTimeSec * 1000, staleAfterMs)
      : countVerdict(name, history, now, monitor.missedCount, staleAfterMs);
  };

  // Addresses: with method "both" an address fails only when both probes fail; trigger decides any vs all.
  const methods: ProbeMethod[] = monitor.method === 'both' ? ['network', 'service'] : [monitor.method];
  const addressVerdicts = monitor.addresses.map((address) => {
    const verdicts = methods.map((m) => channel(m, address));
    verdicts.forEach((v) => reasons.push(v.why));
    const failed = verdicts.every((v) => v.failed);
    return { failed, since: failed ? Math.max(...verdicts.map((v) => v.since!)) : undefined };
  });
  const addressesFired = addressVerdicts.length > 0 &&
    (monitor.trigger === 'all' ? addressVerdicts.every((v) => v.failed) : addressVerdicts.some((v) => v.failed));
  const addressSinces = addressVerdicts.filter((v) => v.failed).map((v) => v.since!);
  const addressesSince = addressesFired
    ? (monitor.trigger === 'all' ? Math.max(...addressSinces) : Math.min(...addressSinces))
    : undefined;

  // Services are checked in parallel and any failed unit fires the monitor (manual 2.7).
  const serviceVerdicts = monitor.services.map((s) => channel('services', s.name));
  serviceVerdicts.forEach((v) => reasons.push(v.why));
  const failedServices = serviceVerdicts.filter((v) => v.failed);
  const servicesSince = failedServices.length > 0 ? Math.min(...failedServices.map((v) => v.since!)) : undefined;

  if (monitor.addresses.length === 0 && monitor.services.length === 0) {
    reasons.push('the failover monitor watches no address and no service, so it never fires');
  } else if (monitor.addresses.length > 1) {
    reasons.push(`trigger "${monitor.trigger}": ${addressSinces.length} of ${monitor.addresses.length} monitored addresses failed`);
  }

  const sinces = [addressesSince, servicesSince].filter((s): s is number => s !== undefined);
  const targetRuleFired = sinces.length > 0;
  const startAt = !targetRuleFired ? null : monitor.mode === 'time' ? now - monitor.failoverTimeSec * 1000 : Math.min(...sinces);

  // The hub vouches for silence only since it started: a freshly started hub has not had the chance to see a poll.
  const hubUptimeSec = sec(now - hubStartedAt);
  const sourceSilentSec = input.sourceLastPollAt === null ? null : sec(now - input.sourceLastPollAt);
  const minSilenceMs = (input.minSourceSilenceSec ?? 0) * 1000;

  let conditionMet = false;
  if (!targetRuleFired) {
    reasons.push('the target still reaches the source, or has not reported long enough to tell: no failover');
  } else {
    const windowStart = Math.min(startAt!, now - minSilenceMs);
    const hubReady = hubStartedAt <= windowStart;
    const sourceSilent = (input.sourceLastPollAt ?? -Infinity) <= windowStart;
    const needSec = sec(now - windowStart);
    if (!hubReady) {
      reasons.push(`the hub has been up ${hubUptimeSec} s, less than the ${needSec} s window; it cannot yet judge whether the source is polling`);
    }
    if (!sourceSilent) {
      reasons.push(
        `the source agent polled the hub ${sourceSilentSec} s ago (failover needs ${needSec} s of silence): ` +
          'it is alive, so the target losing it is a network partition, not a failure',
      );
    } else if (hubReady) {
      reasons.push(
        input.sourceLastPollAt === null
          ? `the source agent has never polled this hub, which has been up ${hubUptimeSec} s`
          : `the source agent has not polled the hub for ${sourceSilentSec} s (window ${needSec} s)`,
      );
    }
    conditionMet = hubReady && sourceSilent;
    if (conditionMet) reasons.push('failover condition met: the target cannot reach the source and the source has stopped polling the hub');
  }

  return {
    conditionMet,
    reasons,
    window: {
      mode: monitor.mode,
      startAt,
      durationSec: startAt === null ? null : sec(now - startAt),
      targetRuleFired,
      sourceSilentSec,
      hubUptimeSec,
    },
  };
}

/** Time mode: every probe in (now − window, now] missed, the history reaches back to the window start, and it is fresh. */
function timeVerdict(name: string, history: readonly MonitorProbe[], now: number, windowMs: number, staleAfterMs: number): ChannelVerdict {
  const windowStart = now - windowMs;
  const inWindow = history.filter((p) => p.at > windowStart);
  const newest = history.at(-1);
  if (!newest) return { failed: false, why: `${name}: no reports from the target` };
  if (now - newest.at > staleAfterMs) return { failed: false, why: `${name}: the newest report is ${sec(now - newest.at)} s old, too old to judge` };
  const lastOk = history.findLast((p) => p.ok);
  if (inWindow.some((p) => p.ok)) return { failed: false, why: `${name}: answered ${sec(now - lastOk!.at)} s ago` };
  if (inWindow.length === 0) return { failed: false, why: `${name}: no probe in the last ${sec(windowMs)} s` };
  if (history[0]!.at > windowStart) {
    return { failed: false, why: `${name}: missed, but monitored for only ${sec(now - history[0]!.at)} s of the ${sec(windowMs)} s failover time` };
  }
  const silentFor = lastOk ? `${sec(now - lastOk.at)} s` : 'as long as it has been monitored';
  return { failed: true, since: windowStart, why: `${name}: no answer for ${silentFor} (failover time ${sec(windowMs)} s)` };
}

/** Count mode: the last `count` probes all missed, and the newest is fresh. */
function countVerdict(name: string, history: readonly MonitorProbe[], now: number, count: number, staleAfterMs: number): ChannelVerdict {
  const newest = history.at(-1);
  if (!newest) return { failed: false, why: `${name}: no reports from the target` };
  if (now - newest.at > staleAfterMs) return { failed: false, why: `${name}: the newest report is ${sec(now - newest.at)} s old, too old to judge` };
  const last = history.slice(-count);
  let misses = 0;
  for (let i = history.length - 1; i >= 0 && !history[i]!.ok; i--) misses++;
  if (last.length < count || last.some((p) => p.ok)) {
    return { failed: false, why: `${name}: ${misses} consecutive misses of ${count}` };
  }
  return { failed: true, since: last[0]!.at, why: `${name}: ${misses} consecutive misses (limit ${count})` };
}

export type FailoverAction = 'none' | 'mark_condition_met' | 'order_failover' | 'clear_condition';

/**
 * States from which the hub fails over on its own when waitForUser is off: the replica was complete (protecting)
 * or complete up to the pause. Anywhere else the condition is only marked and an operator decides.
 */
const AUTO_FAILOVER_FROM: ReadonlySet<JobState> = new Set(['protecting', 'paused']);

/** What the hub does with a fresh decision, given the job's lifecycle state. Idempotent: call it on every report. */
export function decideAction(state: JobState, conditionMet: boolean, waitForUser: boolean): FailoverAction {
  if (!conditionMet) return state === 'failover_condition_met' ? 'clear_condition' : 'none';
  if (!legalCommands(state).includes('condition_met')) return 'none'; // already met, or failing over / failed over / failing back
  if (!waitForUser && AUTO_FAILOVER_FROM.has(state)) return 'order_failover';
  return 'mark_condition_met';
}

export { shouldFenceSource, type FenceInput, type FenceDecision } from '../../shared/jobs/fencing';
