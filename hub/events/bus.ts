// The event bus behind `deps.events`: raise() records an event in the background and wakes the delivery loop.
// raise() never throws and never waits, so no route, poll or failover step is slowed by storage or delivery.
import { eventByName } from '../../shared/events/catalog';
import type { RaiseInput } from '../../shared/events/types';
import type { Clock } from '../deps';
import type { Db } from '../db/types';
import type { Logger } from '../log';
import type { Notifier } from '../notify/notifier';
import { DEFAULT_DEDUP_WINDOW_MS } from './dedup';
import { storeEvent, type StoreResult } from './store';

export interface EventBus {
  /** Fire and forget: validates against the catalog, stores with dedup, queues notifications. */
  raise(input: RaiseInput): void;
  /** Resolves once every event raised so far is stored (tests; Workers pass it to waitUntil). */
  flush(): Promise<void>;
  /** Stores an event and waits for it; `only` sends it to one webhook endpoint (the test action). */
  record(input: RaiseInput, only?: { endpointId: string }): Promise<StoreResult | null>;
  /** Channels, target policy and the delivery loop. */
  readonly notify: Notifier;
}

export interface EventBusOptions {
  db: Db;
  clock: Clock;
  log: Logger;
  notify: Notifier;
  dedupWindowMs?: number;
  /** Events waiting to be stored beyond this are dropped with an error log rather than growing memory. */
  maxBacklog?: number;
}

export function createEventBus(opts: EventBusOptions): EventBus {
  const { db, clock, log, notify } = opts;
  const windowMs = opts.dedupWindowMs ?? DEFAULT_DEDUP_WINDOW_MS;
  const maxBacklog = opts.maxBacklog ?? 10_000;
  // One chain keeps dedup decisions race-free within this process and preserves raise order.
  let tail: Promise<unknown> = Promise.resolve();
  let backlog = 0;

  async function store(input: RaiseInput, at: number, only?: { endpointId: string }): Promise<StoreResult | null> {
    const def = eventByName(input.event);
    if (!def) {
      log.error({ event: input.event }, 'event not in the catalog; add it to shared/events/catalog.ts');
      return null;
    }
    const result = await storeEvent(db, input, def, at, windowMs, only);
    // A targeted event (test action) is sent by its caller; others wake the delivery loop.
    if (result.deliveries > 0 && !only) notify.kick();
    log.debug({ event: def.name, eventId: result.event.id, jobId: input.jobId, serverId: input.serverId, collapsed: result.collapsed }, 'event');
    return result;
  }

  return {
    notify,
    record: (input, only) => store(input, clock.now(), only),
    raise(input) {
      try {
        if (backlog >= maxBacklog) {
          log.error({ event: input.event, backlog }, 'event dropped: the event store is not keeping up');
          return;
        }
        backlog++;
        // The event's time is when it was raised, not when the store got to it.
        const at = clock.now();
        tail = tail.then(() => store(input, at)).catch((err: unknown) => {
          log.error({ event: input.event, err: String(err) }, 'event could not be stored');
        }).finally(() => { backlog--; });
      } catch (err) {
        log.error({ event: (input as { event?: string })?.event, err: String(err) }, 'raise failed');
      }
    },
    flush: () => tail.then(() => undefined, () => undefined),
  };
}
