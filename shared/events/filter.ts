// Notification filters (by severity and by event id or name), shared by e-mail and webhooks; pure and validated by zod.
import { z } from 'zod';
import { eventById, eventByName, SEVERITIES, type EventDef, type Severity } from './catalog';

/** Largest number of entries accepted in an include or exclude list. */
export const MAX_FILTER_ENTRIES = 100;

const EventRef = z.union([z.number().int(), z.string().max(100)]).superRefine((v, ctx) => {
  const known = typeof v === 'number' ? eventById(v) : eventByName(v);
  if (!known) ctx.addIssue({ code: 'custom', message: `unknown event ${JSON.stringify(v)}; see GET /v1/events/catalog` });
});

export const NotifyFilter = z.strictObject({
  /** Severities to deliver; empty or absent = all. */
  severities: z.array(z.enum(SEVERITIES as [Severity, ...Severity[]])).max(3).optional(),
  /** Only these events (ids or names); empty or absent = all that pass the other rules. */
  include: z.array(EventRef).max(MAX_FILTER_ENTRIES, `at most ${MAX_FILTER_ENTRIES} events per list`).optional(),
  /** Never these events (ids or names), like the manual's "exclude these event IDs". */
  exclude: z.array(EventRef).max(MAX_FILTER_ENTRIES, `at most ${MAX_FILTER_ENTRIES} events per list`).optional(),
});
export type NotifyFilter = z.infer<typeof NotifyFilter>;

function refersTo(ref: number | string, d: EventDef): boolean {
  return typeof ref === 'number' ? ref === d.id : ref === d.name;
}

/** Whether an event of this catalog entry passes the filter. */
export function filterAccepts(filter: NotifyFilter, d: Pick<EventDef, 'id' | 'name' | 'severity'>): boolean {
  const def = d as EventDef;
  if (filter.severities?.length && !filter.severities.includes(d.severity)) return false;
  if (filter.include?.length && !filter.include.some((r) => refersTo(r, def))) return false;
  if (filter.exclude?.some((r) => refersTo(r, def))) return false;
  return true;
}
