// The top-level paths a mirror walk or a watcher must start from: the non-wildcard prefix of
// every include rule, with nested ones folded into their ancestor.
import { normalizeAbsolutePath, pathSegments } from '../paths/absolute-path';
import { RulesSchema, type RuleInput } from './schema';
import { isGlobSegment } from './segment-glob';

/**
 * Sorted, non-overlapping absolute paths covering everything the include rules can reach.
 * A root may name a file (an include rule for a single file); callers should stat it.
 * Exclude rules never add roots; they are applied during the walk via mayContainIncluded.
 */
export function protectedRoots(rules: readonly RuleInput[]): string[] {
  const bases = new Set<string>();
  for (const rule of RulesSchema.parse(rules)) {
    if (rule.type !== 'include') continue;
    const segs = pathSegments(normalizeAbsolutePath(rule.path));
    const firstGlob = segs.findIndex(isGlobSegment);
    const literal = firstGlob === -1 ? segs : segs.slice(0, firstGlob);
    bases.add('/' + literal.join('/'));
  }
  const sorted = [...bases].sort();
  const roots: string[] = [];
  for (const b of sorted) {
    // Sorted order puts "/a" before "/a/b"; "/a-b" sorts between them, so check every kept root.
    if (!roots.some((r) => r === '/' || b === r || b.startsWith(r + '/'))) roots.push(b);
  }
  return roots;
}
