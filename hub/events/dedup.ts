// Dedup keys and the collapse decision: pure functions, so the flap rules are unit-tested without a database.
import type { EventDef } from '../../shared/events/catalog';
import type { EventFields } from '../../shared/events/types';

/** Identical events closer than this to the first of their run are collapsed into it (count + 1). */
export const DEFAULT_DEDUP_WINDOW_MS = 5 * 60_000;
/** PagerDuty's dedup_key limit. */
const MAX_KEY = 255;

function fnv1a(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/**
 * `<scope>:<problem>[:<detail>]`, where the problem is the event a resolution closes, so a problem and its
 * resolution share one key (e.g. `job_1:job.lag_above_threshold`).
 */
export function dedupKey(def: Pick<EventDef, 'name' | 'resolves' | 'dedupBy'>, jobId: string | null, serverId: string | null, fields: EventFields): string {
  const scope = [jobId, serverId].filter(Boolean).join('/') || 'org';
  const detail = (def.dedupBy ?? []).map((f) => String(fields[f] ?? '')).join('|');
  const key = `${scope}:${def.resolves ?? def.name}${detail ? `:${detail}` : ''}`;
  return key.length <= MAX_KEY ? key : `${key.slice(0, MAX_KEY - 9)}#${fnv1a(key)}`;
}

export interface LatestForKey {
  id: string;
  name: string;
  firstAt: number;
}

export type DedupDecision = { kind: 'new' } | { kind: 'collapse'; id: string };

/**
 * Collapse when the latest event under the same key is this very event and its run started within the window.
 * A problem after its resolution is a new event (never hidden), so an operator always hears the latest state.
 */
export function decideDedup(latest: LatestForKey | undefined, name: string, now: number, windowMs = DEFAULT_DEDUP_WINDOW_MS): DedupDecision {
  if (latest && latest.name === name && now - latest.firstAt < windowMs) return { kind: 'collapse', id: latest.id };
  return { kind: 'new' };
}

/** Fills `{field}` placeholders; `{job}`/`{server}` fall back to the ids; missing values render as "?". */
export function renderMessage(template: string, fields: EventFields, jobId: string | null, serverId: string | null): string {
  return template.replace(/\{(\w+)\}/g, (_m, k: string) => {
    const v = fields[k];
    if (v !== undefined && v !== null) return String(v);
    if ((k === 'jobName' || k === 'job') && jobId) return jobId;
    if ((k === 'serverName' || k === 'server') && serverId) return serverId;
    return '?';
  });
}

const MAX_FIELD_CHARS = 1024;
const MAX_FIELDS = 32;

/** Keeps stored fields small and JSON-safe: at most 32 fields, strings cut at 1 KB. */
export function boundFields(fields: EventFields | undefined): EventFields {
  const out: EventFields = {};
  for (const [k, v] of Object.entries(fields ?? {}).slice(0, MAX_FIELDS)) {
    if (typeof v === 'string') out[k] = v.length > MAX_FIELD_CHARS ? v.slice(0, MAX_FIELD_CHARS) + '…' : v;
    else if (typeof v === 'number' || typeof v === 'boolean' || v === null) out[k] = Number.isFinite(v as number) || typeof v !== 'number' ? v : null;
  }
  return out;
}
