// Which channels an event goes to: pure, from the org's e-mail settings and webhook endpoints.
import type { EventDef } from '../../shared/events/catalog';
import { filterAccepts, type NotifyFilter } from '../../shared/events/filter';

export interface ChannelTargets {
  email: { enabled: boolean; filter: NotifyFilter; recipients: string[] } | null;
  webhooks: Array<{ id: string; enabled: boolean; filter: NotifyFilter }>;
}

export type PlannedDelivery = { channel: 'email'; endpointId: null } | { channel: 'webhook'; endpointId: string };

/** E-mail failures are not e-mailed (they would loop); they still reach webhooks. */
const NOT_EMAILED = new Set(['notify.email_failed']);

export function planDeliveries(def: Pick<EventDef, 'id' | 'name' | 'severity'>, targets: ChannelTargets): PlannedDelivery[] {
  const out: PlannedDelivery[] = [];
  const e = targets.email;
  if (e && e.enabled && e.recipients.length > 0 && !NOT_EMAILED.has(def.name) && filterAccepts(e.filter, def)) {
    out.push({ channel: 'email', endpointId: null });
  }
  for (const w of targets.webhooks) {
    if (w.enabled && filterAccepts(w.filter, def)) out.push({ channel: 'webhook', endpointId: w.id });
  }
  return out;
}
