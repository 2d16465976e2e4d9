// Edition gating as data: which host sizes an edition covers and what it may still do on a larger host.
// The manual's Foundation rule (a Foundation licence on a larger host: target only, only for Foundation sources,
// full-server protection only) is one row of this table, not code.
import type { Edition } from './model';

export type ServerRole = 'source' | 'target';

/** Host size classes, smallest first; a host belongs to the first class whose limits it fits. */
export interface HostClass { tier: number; label: string; maxCpus: number | null; maxMemoryMB: number | null }
export const HOST_CLASSES: readonly HostClass[] = [
  { tier: 1, label: 'small (up to 4 CPUs, 16 GB)', maxCpus: 4, maxMemoryMB: 16_384 },
  { tier: 2, label: 'medium (up to 16 CPUs, 128 GB)', maxCpus: 16, maxMemoryMB: 131_072 },
  { tier: 3, label: 'large (up to 64 CPUs, 1 TB)', maxCpus: 64, maxMemoryMB: 1_048_576 },
  { tier: 4, label: 'any size', maxCpus: null, maxMemoryMB: null },
];

/** What an edition still allows on a host larger than it covers (null: nothing). */
export interface OversizeAllowance {
  roles: readonly ServerRole[];
  /** Editions the peer (the other end of the job) must have. */
  peerEditions: readonly Edition[];
  jobTypes: readonly string[];
}

export interface EditionRule {
  label: string;
  maxHostTier: number;
  /** Job types this edition may protect; '*' for all. */
  jobTypes: readonly string[] | '*';
  oversize: OversizeAllowance | null;
}

export const EDITIONS: Record<Edition, EditionRule> = {
  foundation: {
    label: 'Foundation', maxHostTier: 1, jobTypes: '*',
    oversize: { roles: ['target'], peerEditions: ['foundation'], jobTypes: ['full_server'] },
  },
  standard: { label: 'Standard', maxHostTier: 2, jobTypes: '*', oversize: null },
  advanced: { label: 'Advanced', maxHostTier: 3, jobTypes: '*', oversize: null },
  enterprise: { label: 'Enterprise', maxHostTier: 4, jobTypes: '*', oversize: null },
};

/** Host tier from reported facts; an unknown size counts as the smallest class so missing facts never block. */
export function hostTier(facts: { cpus?: number | null; memoryMB?: number | null }): number {
  for (const c of HOST_CLASSES) {
    const cpuOk = c.maxCpus == null || facts.cpus == null || facts.cpus <= c.maxCpus;
    const memOk = c.maxMemoryMB == null || facts.memoryMB == null || facts.memoryMB <= c.maxMemoryMB;
    if (cpuOk && memOk) return c.tier;
  }
  return HOST_CLASSES[HOST_CLASSES.length - 1]!.tier;
}

export interface GateInput {
  edition: Edition;
  hostTier: number;
  role: ServerRole;
  jobType: string;
  /** The edition licensing the other server of the job, if known. */
  peerEdition?: Edition | null;
}

export interface GateIssue { code: string; message: string }

/** Whether an edition lets this server take this role in this kind of job; empty when allowed. */
export function editionIssues(input: GateInput): GateIssue[] {
  const rule = EDITIONS[input.edition];
  if (rule.jobTypes !== '*' && !rule.jobTypes.includes(input.jobType)) {
    return [{ code: 'edition_job_type', message: `The ${rule.label} edition does not cover ${input.jobType} jobs.` }];
  }
  if (input.hostTier <= rule.maxHostTier) return [];
  const size = HOST_CLASSES.find((c) => c.tier === input.hostTier)?.label ?? `tier ${input.hostTier}`;
  const o = rule.oversize;
  if (!o) {
    return [{ code: 'edition_host_too_large', message: `The ${rule.label} edition does not cover a ${size} host; use a higher edition.` }];
  }
  const issues: GateIssue[] = [];
  if (!o.roles.includes(input.role)) {
    issues.push({ code: 'edition_role', message: `On a ${size} host the ${rule.label} edition may only be a ${o.roles.join(' or ')}, not a ${input.role}.` });
  }
  if (!input.peerEdition || !o.peerEditions.includes(input.peerEdition)) {
    issues.push({ code: 'edition_peer', message: `On a ${size} host the ${rule.label} edition only protects ${o.peerEditions.map((e) => EDITIONS[e].label).join('/')} servers.` });
  }
  if (!o.jobTypes.includes(input.jobType)) {
    issues.push({ code: 'edition_job_type', message: `On a ${size} host the ${rule.label} edition only allows ${o.jobTypes.join(', ')} jobs.` });
  }
  return issues;
}
