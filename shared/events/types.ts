// What a caller passes to `deps.events.raise()` and what a stored event looks like on the wire.
import type { EventName, Severity } from './catalog';

export type EventFieldValue = string | number | boolean | null;
export type EventFields = Record<string, EventFieldValue>;

export interface RaiseInput {
  /** A catalog name, e.g. 'job.failover_condition_met'. */
  event: EventName;
  orgId: string;
  jobId?: string | null;
  serverId?: string | null;
  /** Values for the catalog template; keep them small (strings are cut at 1 KB). */
  fields?: EventFields;
}

/** An event as the API, webhooks and the CLI show it. */
export interface EventView {
  id: string;
  type: EventName | string;
  typeId: number;
  severity: Severity;
  message: string;
  orgId: string;
  jobId: string | null;
  serverId: string | null;
  fields: EventFields;
  dedupKey: string;
  /** How many identical occurrences were collapsed into this event (1 = none). */
  count: number;
  /** Name of the problem event this one resolves, if it is a resolution. */
  resolves: string | null;
  firstAt: string;
  lastAt: string;
}
