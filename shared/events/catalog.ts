// The event catalog: every event Tandem raises, with a stable numeric id, severity, message template and fields.
// Ids never change once shipped (filters and e-mail exclusions refer to them); add new events with new ids.
// `manual` names the Double-Take event message (chapter 18, "Event messages") that this event replaces, if any.

export type Severity = 'info' | 'warning' | 'error';
export const SEVERITIES: readonly Severity[] = ['info', 'warning', 'error'];

export interface EventDef {
  /** Stable numeric id, used in filters. */
  id: number;
  /** Dot-delimited name, also the Standard Webhooks `type`. */
  name: string;
  severity: Severity;
  /** Message with `{field}` placeholders; `{job}` / `{server}` are filled from jobId / serverId when absent from fields. */
  template: string;
  /** Field names the event carries (all optional at raise time; missing ones render as "?"). */
  fields: readonly string[];
  /** The problem event this one closes: it shares that problem's dedup key (PagerDuty-style trigger/resolve pairs). */
  resolves?: string;
  /** Fields that make two occurrences different problems (besides org, job and server), e.g. the blocked path. */
  dedupBy?: readonly string[];
  /** Equivalent Double-Take event message ids and text, when there is one. */
  manual?: string;
}

function def<const N extends string>(d: EventDef & { name: N }): EventDef & { name: N } {
  return d;
}

export const EVENT_CATALOG = [
  // ── Agents and servers (1xxx) ───────────────────────────────────────────────
  def({ id: 1001, name: 'agent.enrolled', severity: 'info', template: 'Server {serverName} ({hostname}) enrolled with the hub.', fields: ['serverName', 'hostname', 'reenrolled'] }),
  def({ id: 1002, name: 'agent.online', severity: 'info', template: 'Server {serverName} is online again.', fields: ['serverName'], resolves: 'agent.offline', manual: '4000/4001/4002: service started' }),
  def({ id: 1003, name: 'agent.offline', severity: 'warning', template: 'Server {serverName} has not contacted the hub since {lastSeenAt}.', fields: ['serverName', 'lastSeenAt'], manual: '5108: source computer %1 is not responding to a ping' }),
  def({ id: 1004, name: 'agent.clock_skew', severity: 'warning', template: 'The clock of server {serverName} differs from the hub by {skewMs} ms; tokens and schedules need clocks within {limitMs} ms.', fields: ['serverName', 'skewMs', 'limitMs'] }),
  def({ id: 1005, name: 'agent.clock_skew_resolved', severity: 'info', template: 'The clock of server {serverName} is back within {limitMs} ms of the hub.', fields: ['serverName', 'skewMs', 'limitMs'], resolves: 'agent.clock_skew' }),

  // ── Job lifecycle (2xxx) ────────────────────────────────────────────────────
  def({ id: 2001, name: 'job.created', severity: 'info', template: 'Job {jobName} was created ({sourceName} → {targetName}).', fields: ['jobName', 'sourceName', 'targetName'], manual: '6003: %1 job created. Name is "%2", ID is %3' }),
  def({ id: 2002, name: 'job.started', severity: 'info', template: 'Job {jobName} started.', fields: ['jobName'], manual: '6004: %1 job "%2" (ID %3) has started' }),
  def({ id: 2003, name: 'job.stopped', severity: 'info', template: 'Job {jobName} stopped.', fields: ['jobName', 'reason'], manual: '6005: %1 job "%2" (ID %3) has stopped' }),
  def({ id: 2004, name: 'job.paused', severity: 'info', template: 'Job {jobName} paused.', fields: ['jobName'], manual: '4026: target paused by user intervention' }),
  def({ id: 2005, name: 'job.resumed', severity: 'info', template: 'Job {jobName} resumed.', fields: ['jobName'] }),
  def({ id: 2006, name: 'job.deleted', severity: 'info', template: 'Job {jobName} was deleted.', fields: ['jobName'], manual: '6006/6141: job "%2" (ID %3) deleted' }),
  def({ id: 2007, name: 'job.action_failed', severity: 'error', template: 'The {action} action on job {jobName} failed: {error}', fields: ['jobName', 'action', 'error'], manual: '6007: the %1 operation on %2 job "%3" (ID %4) failed' }),

  // ── Mirror and verify (21xx) ────────────────────────────────────────────────
  def({ id: 2101, name: 'mirror.started', severity: 'info', template: 'Mirror of job {jobName} started ({mode}).', fields: ['jobName', 'mode'], manual: '4019: mirror started for replication set %3' }),
  def({ id: 2102, name: 'mirror.completed', severity: 'info', template: 'Mirror of job {jobName} completed: {files} files, {bytes} bytes sent in {durationSec} s.', fields: ['jobName', 'files', 'bytes', 'durationSec'], resolves: 'mirror.required', manual: '4023/6150: mirror completed' }),
  def({ id: 2103, name: 'mirror.stopped', severity: 'warning', template: 'Mirror of job {jobName} stopped before completing: {reason}', fields: ['jobName', 'reason'], manual: '4020: mirror paused / stopped' }),
  def({ id: 2104, name: 'mirror.required', severity: 'warning', template: 'Job {jobName} needs a remirror: {reason}', fields: ['jobName', 'reason'], manual: '4018/4070: mirroring and replication disabled, a restore or remirror is required' }),
  def({ id: 2105, name: 'mirror.blocked', severity: 'error', template: 'Job {jobName}: {reason}', fields: ['jobName', 'reason'], manual: '4110-4113: the target could not write %1 (disk full, access denied)' }),
  def({ id: 2106, name: 'mirror.unblocked', severity: 'info', template: 'The mirror of job {jobName} goes on again.', fields: ['jobName'], resolves: 'mirror.blocked' }),
  def({ id: 2110, name: 'verify.completed', severity: 'info', template: 'Verify of job {jobName} finished: {differences} differences in {files} files checked.', fields: ['jobName', 'files', 'differences', 'remirrored'], manual: '4062: verification completed' }),

  // ── Replication, queues and lag (22xx) ──────────────────────────────────────
  def({ id: 2201, name: 'replication.blocked', severity: 'error', template: 'Replication of job {jobName} is blocked on {path}: {reason}. Retrying.', fields: ['jobName', 'path', 'reason', 'attempts'], dedupBy: ['path'], manual: '4110-4113/4150: target could not write %1 (disk full, sharing violation, access denied)' }),
  def({ id: 2202, name: 'replication.unblocked', severity: 'info', template: 'Replication of job {jobName} wrote {path} after {attempts} attempts.', fields: ['jobName', 'path', 'attempts'], dedupBy: ['path'], resolves: 'replication.blocked', manual: '4120: target wrote %1 after %2 retries' }),
  def({ id: 2203, name: 'queue.threshold_exceeded', severity: 'warning', template: 'The replication queue of job {jobName} is {percent}% full ({bytes} bytes).', fields: ['jobName', 'percent', 'bytes'], manual: '4072: QueueSizeAlertThreshold %1% exceeded' }),
  def({ id: 2204, name: 'queue.exhausted', severity: 'error', template: 'The replication queue of job {jobName} is exhausted ({bytes} bytes); {action}.', fields: ['jobName', 'bytes', 'action'], manual: '8196: maximum replication queue memory reached' }),
  def({ id: 2205, name: 'queue.auto_disconnected', severity: 'error', template: 'Job {jobName} auto-disconnected because its queue is exhausted; it will reconnect and remirror.', fields: ['jobName', 'reason'], manual: '4007/4008: replication set auto-disconnected' }),
  def({ id: 2206, name: 'queue.auto_reconnected', severity: 'info', template: 'Job {jobName} reconnected after an auto-disconnect.', fields: ['jobName'], resolves: 'queue.auto_disconnected', manual: '4009: auto-reconnecting replication set' }),
  def({ id: 2207, name: 'replication.volume_changed', severity: 'error', template: 'Job {jobName}: {reason}', fields: ['jobName', 'reason'], manual: '4110-4113: the source could not read the replication set' }),
  def({ id: 2208, name: 'replication.volume_back', severity: 'info', template: 'The protected volume of job {jobName} is back: replication goes on.', fields: ['jobName'], resolves: 'replication.volume_changed' }),
  def({ id: 2210, name: 'job.lag_above_threshold', severity: 'warning', template: 'Replication lag of job {jobName} is {lagSec} s, above its threshold of {thresholdSec} s.', fields: ['jobName', 'lagSec', 'thresholdSec'] }),
  def({ id: 2211, name: 'job.lag_below_threshold', severity: 'info', template: 'Replication lag of job {jobName} is back under {thresholdSec} s ({lagSec} s).', fields: ['jobName', 'lagSec', 'thresholdSec'], resolves: 'job.lag_above_threshold' }),

  // ── Failover, restore, failback (3xxx) ──────────────────────────────────────
  def({ id: 3001, name: 'job.failover_condition_met', severity: 'error', template: 'A failover condition of job {jobName} is met: {reason}.', fields: ['jobName', 'reason', 'automatic'], manual: '6010/5102: a failover condition has been met for %1 job "%2"; user intervention required before failover' }),
  def({ id: 3002, name: 'failover.started', severity: 'warning', template: 'Failover of job {jobName} to {targetName} started ({mode}).', fields: ['jobName', 'targetName', 'mode'], manual: '6110: job has started %3 failover' }),
  def({ id: 3003, name: 'failover.step_completed', severity: 'info', template: 'Failover of job {jobName}: step {step} done.', fields: ['jobName', 'step'], manual: '5105: attempting to run %1 script' }),
  def({ id: 3004, name: 'failover.step_failed', severity: 'error', template: 'Failover of job {jobName}: step {step} failed: {error}', fields: ['jobName', 'step', 'error'], manual: '5107: error running %1 script' }),
  def({ id: 3005, name: 'failover.completed', severity: 'warning', template: 'Failover of job {jobName} completed; {targetName} now serves the source identity.', fields: ['jobName', 'targetName'], resolves: 'job.failover_condition_met', manual: '5100: failover completed for %1' }),
  def({ id: 3006, name: 'failover.failed', severity: 'error', template: 'Failover of job {jobName} failed: {error}', fields: ['jobName', 'error', 'step'], manual: '6112: job encountered an error performing failover' }),
  def({ id: 3010, name: 'restore.started', severity: 'info', template: 'Restore of job {jobName} from {targetName} started.', fields: ['jobName', 'targetName'], manual: '4053: restoration started' }),
  def({ id: 3011, name: 'restore.completed', severity: 'info', template: 'Restore of job {jobName} completed.', fields: ['jobName', 'files', 'bytes'], manual: '4057: restoration completed' }),
  def({ id: 3012, name: 'restore.failed', severity: 'error', template: 'Restore of job {jobName} failed: {error}', fields: ['jobName', 'error'], manual: '4056: restoration stopped' }),
  def({ id: 3020, name: 'failback.started', severity: 'warning', template: 'Failback of job {jobName} to {sourceName} started.', fields: ['jobName', 'sourceName'] }),
  def({ id: 3021, name: 'failback.completed', severity: 'info', template: 'Failback of job {jobName} completed; {sourceName} serves its identity again.', fields: ['jobName', 'sourceName'], manual: '5200: failback completed for %1' }),
  def({ id: 3022, name: 'failback.failed', severity: 'error', template: 'Failback of job {jobName} failed: {error}', fields: ['jobName', 'error', 'step'], manual: '6122: job encountered an error undoing failover' }),
  def({ id: 3030, name: 'source.fenced', severity: 'warning', template: 'Source {serverName} of job {jobName} was fenced ({method}) so it cannot write after failover.', fields: ['jobName', 'serverName', 'method'] }),

  // ── Snapshots (4xxx) ────────────────────────────────────────────────────────
  def({ id: 4001, name: 'snapshot.taken', severity: 'info', template: 'Snapshot {snapshotId} of job {jobName} taken on {serverName}.', fields: ['jobName', 'serverName', 'snapshotId', 'scheduled'], manual: '4404: snapshot schedule, next snapshot %5' }),
  def({ id: 4002, name: 'snapshot.failed', severity: 'error', template: 'Snapshot of job {jobName} on {serverName} failed: {error}', fields: ['jobName', 'serverName', 'error'], manual: '4400/4403: could not create snapshot set' }),

  // ── Licensing (5xxx) ────────────────────────────────────────────────────────
  def({ id: 5001, name: 'licence.not_activated', severity: 'warning', template: 'The licence of server {serverName} is not activated; activate it within {graceDays} days.', fields: ['serverName', 'licenceId', 'graceDays'], manual: '3/7: trial activated, expires in %1 days / activation code invalid' }),
  def({ id: 5002, name: 'licence.expiring', severity: 'warning', template: 'Licence {licenceId} expires in {daysLeft} days ({expiresAt}). Renew it to keep replication running.', fields: ['licenceId', 'daysLeft', 'expiresAt', 'serverName'], manual: '6: evaluation period expires today / 2' }),
  def({ id: 5003, name: 'licence.expired', severity: 'error', template: 'Licence {licenceId} expired on {expiresAt}; mirroring and replication are stopped.', fields: ['licenceId', 'expiresAt', 'serverName'], manual: '1: evaluation period has expired; mirroring and replication have been stopped' }),
  def({ id: 5004, name: 'licence.host_mismatch', severity: 'error', template: 'Licence {licenceId} is bound to another host ({expectedHost}); server {serverName} reports {actualHost}.', fields: ['licenceId', 'serverName', 'expectedHost', 'actualHost'], manual: '4: duplicate activation code on computer %1 and %2' }),
  def({ id: 5005, name: 'licence.activation_key_issued', severity: 'info', template: 'Activation key for licence {licenceId} on host {hostname}: {activationKey}. Enter it with `tandem license activate --key {activationKey}`.', fields: ['licenceId', 'hostname', 'activationKey'] }),
  def({ id: 5006, name: 'licence.activated', severity: 'info', template: 'Licence {licenceId} was activated on {hostname} ({method}{transfer}).', fields: ['licenceId', 'hostname', 'method', 'transfer', 'serverName'], resolves: 'licence.not_activated' }),

  // ── Notifications themselves (6xxx) ─────────────────────────────────────────
  def({ id: 6000, name: 'notify.test', severity: 'info', template: 'Test notification from Tandem: {note}', fields: ['note'] }),
  def({ id: 6001, name: 'notify.webhook_disabled', severity: 'warning', template: 'Webhook endpoint {endpointUrl} was disabled: {reason}', fields: ['endpointId', 'endpointUrl', 'reason'] }),
  def({ id: 6002, name: 'notify.email_failed', severity: 'warning', template: 'E-mail notification could not be sent through {host}: {error}', fields: ['host', 'error'], manual: '5500/5505: could not connect to the mail server / could not send e-mail' }),
] as const;

export type EventName = (typeof EVENT_CATALOG)[number]['name'];

const byName = new Map<string, EventDef>(EVENT_CATALOG.map((d) => [d.name, d]));
const byId = new Map<number, EventDef>(EVENT_CATALOG.map((d) => [d.id, d]));

export function eventByName(name: string): EventDef | undefined {
  return byName.get(name);
}
export function eventById(id: number): EventDef | undefined {
  return byId.get(id);
}
export const EVENT_NAMES: readonly string[] = EVENT_CATALOG.map((d) => d.name);
