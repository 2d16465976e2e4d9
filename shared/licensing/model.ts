// Licence vocabulary shared by hub, agent and CLI: types, editions, assignment states, as zod enums (one source of truth).
import { z } from 'zod';

/** The manual's licence types plus a seat pool: the order is the 2-bit value inside a licence code; never reorder. */
export const LicenceType = z.enum(['evaluation', 'single', 'site', 'job_seats']);
export type LicenceType = z.infer<typeof LicenceType>;

/** Editions; the order is the 3-bit value inside a licence code; append only. */
export const Edition = z.enum(['foundation', 'standard', 'advanced', 'enterprise']);
export type Edition = z.infer<typeof Edition>;

/** One licence on one server: applied (bound to the server, maybe awaiting activation) → activated → deactivated. */
export const AssignmentState = z.enum(['applied', 'activated', 'deactivated']);
export type AssignmentState = z.infer<typeof AssignmentState>;

export const ActivationMethod = z.enum(['online', 'key', 'file']);
export type ActivationMethod = z.infer<typeof ActivationMethod>;

/** What each type means, as data: the rules the state machine and the inventory read. */
export interface LicenceTypeRule {
  /** How many servers one code may be applied to at once (null: any number). */
  maxServers: number | null;
  /** Activation: always, never, or chosen per code when it is issued. */
  activation: 'required' | 'none' | 'per_code';
  /** Must the code carry an expiry date? */
  expiryRequired: boolean;
  /** Does the licence count job seats instead of licensing servers? */
  seats: boolean;
}

export const LICENCE_TYPES: Record<LicenceType, LicenceTypeRule> = {
  evaluation: { maxServers: null, activation: 'none', expiryRequired: true, seats: false },
  single: { maxServers: 1, activation: 'required', expiryRequired: false, seats: false },
  site: { maxServers: null, activation: 'per_code', expiryRequired: false, seats: false },
  job_seats: { maxServers: 0, activation: 'none', expiryRequired: false, seats: true },
};

export const DAY_MS = 86_400_000;
/** Days a code that needs activation may run unactivated after it is applied (manual: "you have 14 days"). */
export const ACTIVATION_WINDOW_DAYS = 14;
/** Host transfers allowed per licence; a further one is refused (manual: "only two host transfers"). */
export const MAX_HOST_TRANSFERS = 2;
/** Days before expiry at which the hub raises licence.expiring, largest first. */
export const EXPIRY_WARNING_DAYS = [30, 7, 1] as const;
/** A signed licence file is valid this long and refreshed online once a third of it is left. */
export const LICENCE_FILE_TTL_DAYS = 30;
export const LICENCE_FILE_REFRESH_FRACTION = 1 / 3;
/** Activation request codes and files are accepted for this long after the host wrote them. */
export const ACTIVATION_REQUEST_TTL_DAYS = 30;

/** Epoch day numbers stored in codes count from 2020-01-01 (16 bits: until 2199). */
export const CODE_EPOCH_MS = Date.UTC(2020, 0, 1);
export const toCodeDay = (ms: number) => Math.floor((ms - CODE_EPOCH_MS) / DAY_MS) + 1;
/** A code day means "valid through the end of that UTC day". */
export const fromCodeDay = (day: number) => CODE_EPOCH_MS + day * DAY_MS;
