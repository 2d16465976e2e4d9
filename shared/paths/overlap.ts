// Job validation checks on paths (manual 2.12, L7111-7113): overlapping targets between jobs
// and mappings that would replicate a job's own output back into itself.
import { compileRules } from '../rules/matcher';
import { protectedRoots } from '../rules/protected-roots';
import type { RuleInput } from '../rules/schema';
import { isSameOrInside } from './absolute-path';
import { mapSourcePath, type PathMapping } from './mapping';

/** True when the two absolute paths are equal or one contains the other. */
export function pathsOverlap(a: string, b: string): boolean {
  return isSameOrInside(a, b) || isSameOrInside(b, a);
}

/** Where each protected root lands on the target, in protectedRoots order. */
export function mappedTargetRoots(
  rules: readonly RuleInput[],
  mapping: PathMapping,
  sourceName: string,
): { sourceRoot: string; targetPath: string }[] {
  return protectedRoots(rules).map((sourceRoot) => ({ sourceRoot, targetPath: mapSourcePath(sourceRoot, mapping, sourceName) }));
}

/** Protected roots a custom mapping has no entry for (mapSourcePath would throw path_unmapped). */
export function findUnmappedRoots(rules: readonly RuleInput[], mapping: PathMapping): string[] {
  if (mapping.mode !== 'custom') return [];
  return protectedRoots(rules).filter((root) => !mapping.entries.some((e) => isSameOrInside(e.source, root)));
}

export interface MappingLoop {
  sourceRoot: string;
  targetPath: string;
}

/**
 * For a job whose source and target are the same server: roots whose target location could
 * itself be protected by the job, so every write would be replicated again (a loop that
 * never finishes mirroring). one_to_one on one server always loops. Call with rules and a
 * mapping that already passed their schemas.
 */
export function findMappingLoops(rules: readonly RuleInput[], mapping: PathMapping, sourceName: string): MappingLoop[] {
  const matcher = compileRules(rules);
  return mappedTargetRoots(rules, mapping, sourceName).filter(
    ({ targetPath }) => matcher.isIncluded(targetPath) || matcher.mayContainIncluded(targetPath),
  );
}

/** Pairs of target paths (one from each job, same target server) that overlap; empty means no conflict. */
export function findOverlappingTargets(
  jobATargets: readonly string[],
  jobBTargets: readonly string[],
): { a: string; b: string }[] {
  const clashes: { a: string; b: string }[] = [];
  for (const a of jobATargets) for (const b of jobBTargets) if (pathsOverlap(a, b)) clashes.push({ a, b });
  return clashes;
}
