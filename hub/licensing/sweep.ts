// The periodic licence check: raises licence events (not activated, expiring at 30/7/1 days, expired, host mismatch)
// once each, remembering what it raised in the rows. Node runs it on a timer; Workers from a cron trigger.
import { and, eq, ne } from 'drizzle-orm';
import { dueExpiryWarning, serialLabel, DAY_MS } from '../../shared/licensing';
import { licences, licenceAssignments, servers } from '../db/schema';
import type { HubDeps } from '../deps';
import { rowStatus, serverHost } from './store';

const EXPIRED_MARK = 0;

export async function runLicenceSweep(deps: HubDeps, orgId?: string): Promise<{ raised: string[] }> {
  const { db, clock, events } = deps;
  const now = clock.now();
  const raised: string[] = [];
  const lics = (await db.select().from(licences).where(orgId ? eq(licences.orgId, orgId) : undefined)).filter((l) => l.addedAt != null);
  for (const l of lics) {
    const serial = serialLabel(l.serial);
    if (l.expiresAt != null) {
      const sent = l.expiryWarningsSent;
      if (now >= l.expiresAt) {
        if (!sent.includes(EXPIRED_MARK)) {
          events.raise({ event: 'licence.expired', orgId: l.orgId, fields: { licenceId: serial, expiresAt: new Date(l.expiresAt).toISOString().slice(0, 10) } });
          raised.push(`licence.expired:${serial}`);
          await db.update(licences).set({ expiryWarningsSent: [...sent, EXPIRED_MARK] }).where(eq(licences.id, l.id));
        }
      } else {
        const due = dueExpiryWarning(l.expiresAt, now, sent);
        if (due.raise != null) {
          events.raise({
            event: 'licence.expiring', orgId: l.orgId,
            fields: { licenceId: serial, daysLeft: Math.ceil((l.expiresAt - now) / DAY_MS), expiresAt: new Date(l.expiresAt).toISOString().slice(0, 10) },
          });
          raised.push(`licence.expiring:${serial}:${due.raise}`);
          await db.update(licences).set({ expiryWarningsSent: due.sent }).where(eq(licences.id, l.id));
        }
      }
    }
    const asgs = await db.select().from(licenceAssignments).where(and(eq(licenceAssignments.licenceId, l.id), ne(licenceAssignments.state, 'deactivated')));
    for (const a of asgs) {
      const [s] = a.serverId ? await db.select().from(servers).where(eq(servers.id, a.serverId)) : [];
      const st = await rowStatus(l, a, s, now);
      const marks = new Set(a.eventsRaised);
      const before = marks.size;
      if (st.code === 'licence_not_activated' && !marks.has('not_activated')) {
        events.raise({ event: 'licence.not_activated', orgId: l.orgId, serverId: a.serverId, fields: { serverName: s?.name ?? a.hostname, licenceId: serial, graceDays: st.daysLeft } });
        raised.push(`licence.not_activated:${serial}`);
        marks.add('not_activated');
      }
      const mismatch = st.code === 'licence_host_mismatch' || st.code === 'licence_invalid';
      if (mismatch && !marks.has('host_mismatch') && s) {
        events.raise({
          event: 'licence.host_mismatch', orgId: l.orgId, serverId: s.id,
          fields: { licenceId: serial, serverName: s.name, expectedHost: a.hostname ?? a.hostFingerprint, actualHost: (await serverHost(s)).hostname },
        });
        raised.push(`licence.host_mismatch:${serial}`);
        marks.add('host_mismatch');
      } else if (!mismatch) {
        marks.delete('host_mismatch');
      }
      if (marks.size !== before || [...marks].some((m) => !a.eventsRaised.includes(m))) {
        await db.update(licenceAssignments).set({ eventsRaised: [...marks] }).where(eq(licenceAssignments.id, a.id));
      }
    }
  }
  return { raised };
}

/** Starts the hourly sweep on Node; returns a stop function. */
export function startLicenceSweep(deps: HubDeps, everyMs = 3600_000): () => void {
  const tick = () => void runLicenceSweep(deps).catch((err) => deps.log.error({ err: String(err) }, 'licence sweep failed'));
  const first = setTimeout(tick, 5_000);
  const timer = setInterval(tick, everyMs);
  first.unref?.();
  timer.unref?.();
  return () => { clearTimeout(first); clearInterval(timer); };
}
