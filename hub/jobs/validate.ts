// Job validation (manual 2.18/2.25): a list of {severity, code, message}; creation is refused while any error remains.
import { and, eq, ne, or } from 'drizzle-orm';
import type { ValidationItem, FilesJobSpec } from '../../shared/jobs/definition';
import { findMappingLoops, findOverlappingTargets, findUnmappedRoots, mappedTargetRoots } from '../../shared/paths';
import { compareVersions } from '../../shared/version';
import { jobs, servers } from '../db/schema';
import type { HubDeps } from '../deps';
import { licenceJobValidator } from '../licensing/job-validator';
import { z } from 'zod';
import { FilesystemUsage } from '../../shared/protocol/control';

type ServerRow = typeof servers.$inferSelect;

export interface JobDraft {
  name: string;
  source: string;
  target: string;
  spec: FilesJobSpec;
}

export interface ValidationResult {
  items: ValidationItem[];
  ok: boolean;
  source?: ServerRow;
  target?: ServerRow;
}

async function serverByIdOrName(deps: HubDeps, orgId: string, ref: string): Promise<ServerRow | undefined> {
  const [row] = await deps.db.select().from(servers).where(and(eq(servers.orgId, orgId), or(eq(servers.id, ref), eq(servers.name, ref))));
  return row;
}

/** Extra checks contributed by other modules (licensing); each returns items to add. */
export type JobValidator = (deps: HubDeps, orgId: string, ctx: { source: ServerRow; target: ServerRow; draft: JobDraft; jobId?: string }) => Promise<ValidationItem[]>;
const extraValidators = new Set<JobValidator>([licenceJobValidator]);
/** Registers another check (idempotent). Licensing is always registered: no valid licence, no new protection. */
export function addJobValidator(v: JobValidator): void {
  extraValidators.add(v);
}

export async function validateJob(deps: HubDeps, orgId: string, draft: JobDraft, jobId?: string): Promise<ValidationResult> {
  const items: ValidationItem[] = [];
  const source = await serverByIdOrName(deps, orgId, draft.source);
  const target = await serverByIdOrName(deps, orgId, draft.target);
  if (!source) items.push({ severity: 'error', code: 'source_unknown', message: `Source server "${draft.source}" is not enrolled. Run \`tandem server ls\` to see servers.` });
  if (!target) items.push({ severity: 'error', code: 'target_unknown', message: `Target server "${draft.target}" is not enrolled. Run \`tandem server ls\` to see servers.` });

  // Jobs are found by id or name, so a name that is another job's id would make that id point at two jobs.
  const [dup] = await deps.db.select({ id: jobs.id, name: jobs.name }).from(jobs)
    .where(and(eq(jobs.orgId, orgId), or(eq(jobs.name, draft.name), eq(jobs.id, draft.name)), ...(jobId ? [ne(jobs.id, jobId)] : [])));
  if (dup) {
    const taken = dup.name === draft.name ? `A job named "${draft.name}" already exists` : `"${draft.name}" is the id of another job`;
    items.push({ severity: 'error', code: 'job_name_taken', message: `${taken}; choose another name.` });
  }

  const { rules, pathMapping } = draft.spec;
  if (!rules.some((r) => r.type === 'include')) {
    items.push({ severity: 'error', code: 'no_include_rule', message: 'The replication set has no include rule, so nothing would be protected.' });
  }
  for (const root of findUnmappedRoots(rules, pathMapping)) {
    items.push({ severity: 'error', code: 'path_unmapped', message: `No custom path mapping covers "${root}". Add a mapping entry for it.` });
  }

  if (source && target) {
    const sourceName = source.name;
    if (source.id === target.id) {
      for (const loop of findMappingLoops(rules, pathMapping, sourceName)) {
        items.push({ severity: 'error', code: 'target_inside_protected_set', message: `Target path "${loop.targetPath}" is inside this job's own protected set ("${loop.sourceRoot}"): it would replicate into itself. Map it elsewhere.` });
      }
    } else if (source.machineId === target.machineId) {
      // Two agents on one host (or hosts cloned with one /etc/machine-id): if they share a file system, the replica
      // would be the protected data itself, which the target also makes read-only. Only a warning: clones are separate.
      for (const loop of findMappingLoops(rules, pathMapping, sourceName)) {
        items.push({ severity: 'warning', code: 'target_may_be_protected_set', message: `"${source.name}" and "${target.name}" report the same machine id: if they share a file system, target path "${loop.targetPath}" is inside this job's own protected set ("${loop.sourceRoot}"), so the job would replicate into itself and make it read-only. Map it elsewhere, or give cloned hosts their own machine id (systemd-machine-id-setup).` });
      }
    }
    let targetRoots: string[] = [];
    try {
      targetRoots = mappedTargetRoots(rules, pathMapping, sourceName).map((m) => m.targetPath);
    } catch {
      /* unmapped roots were reported above */
    }
    const others = await deps.db.select().from(jobs)
      .where(and(eq(jobs.orgId, orgId), eq(jobs.targetServerId, target.id), ...(jobId ? [ne(jobs.id, jobId)] : [])));
    for (const other of others) {
      const spec = other.spec as unknown as FilesJobSpec;
      const [otherSource] = await deps.db.select({ name: servers.name }).from(servers).where(eq(servers.id, other.sourceServerId));
      let otherRoots: string[] = [];
      try {
        otherRoots = mappedTargetRoots(spec.rules, spec.pathMapping, otherSource?.name ?? other.sourceServerId).map((m) => m.targetPath);
      } catch {
        continue;
      }
      for (const o of findOverlappingTargets(targetRoots, otherRoots)) {
        items.push({ severity: 'error', code: 'target_overlaps_other_job', message: `Target path "${o.a}" overlaps "${o.b}" used by job "${other.name}" on the same target. Map this job to a different target path.` });
      }
    }
    // One transmission per source and target (manual 2.16): jobs of the pair with different bandwidth settings get
    // the lowest limit in force among them, whatever each says.
    const bandwidthKey = (b: FilesJobSpec['bandwidth'] | undefined) => JSON.stringify(b ?? { mode: 'unlimited', schedule: [] });
    const differing = others.filter((o) => o.sourceServerId === source.id && bandwidthKey((o.spec as unknown as FilesJobSpec).bandwidth) !== bandwidthKey(draft.spec.bandwidth));
    if (differing.length) {
      items.push({ severity: 'warning', code: 'bandwidth_differs', message: `${differing.map((o) => `Job "${o.name}"`).join(', ')} also ${differing.length > 1 ? 'send' : 'sends'} from ${source.name} to ${target.name} with other bandwidth settings: the transmission is shared, so the lowest limit in force among them applies to all. Set them together with \`tandem job bandwidth\`.` });
    }
    if (compareVersions(source.agentVersion, target.agentVersion) > 0) {
      items.push({ severity: 'error', code: 'source_newer_than_target', message: `The source runs Tandem ${source.agentVersion} but the target runs ${target.agentVersion}; upgrade the target first.` });
    }
    items.push(...freeSpaceItems(source, target, targetRoots));
    for (const v of extraValidators) items.push(...(await v(deps, orgId, { source, target, draft, jobId })));
  }
  if (!items.some((i) => i.severity !== 'ok')) items.push({ severity: 'ok', code: 'valid', message: 'The job definition is valid.' });
  return { items, ok: !items.some((i) => i.severity === 'error'), source, target };
}

const FilesystemReports = z.array(FilesystemUsage);

/** Warns when the target's file system for a mapped root is nearly full or smaller than the source's protected data. */
function freeSpaceItems(source: ServerRow, target: ServerRow, targetRoots: string[]): ValidationItem[] {
  // What an agent reports of its host is checked like any input: another version's (or a broken agent's) shape is
  // no reason to fail a job's validation, only one for the free-space check to be left out.
  const parsed = FilesystemReports.safeParse((target.state as { filesystems?: unknown } | null)?.filesystems);
  const reported = parsed.success ? parsed.data : [];
  if (!reported.length) return [];
  const needed = Number((source.state as { protectedBytes?: number } | null)?.protectedBytes ?? 0);
  const out: ValidationItem[] = [];
  for (const root of targetRoots) {
    const fs = reported.filter((f) => root === f.mount || root.startsWith(f.mount.endsWith('/') ? f.mount : f.mount + '/'))
      .sort((a, b) => b.mount.length - a.mount.length)[0];
    if (!fs) continue;
    if ((needed && fs.freeBytes < needed) || fs.freeBytes < fs.totalBytes * 0.05) {
      out.push({ severity: 'warning', code: 'target_low_space', message: `The target file system for "${root}" (${fs.mount}) has ${Math.round(fs.freeBytes / 1048576)} MiB free${needed ? `, less than the ${Math.round(needed / 1048576)} MiB protected` : ''}. Free space before mirroring.` });
    }
  }
  return out;
}
