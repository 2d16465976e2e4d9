// Compiles replication-set rules into a matcher that decides, per path, whether it is protected.
// Semantics (manual 2.5, L6581-6589, L7030-7034): the rule nearest the path in the tree decides.
import { normalizeAbsolutePath, pathSegments } from '../paths/absolute-path';
import { RulesSchema, type Rule, type RuleInput } from './schema';
import { compileSegment, matchPrefixes, type SegmentMatcher } from './segment-glob';

/*
 * How "nearest" is measured. A rule names a node A in the tree (its pattern matches A's path)
 * and then applies to a path P when A is P, A is P's parent, or (recursive rules) A is any
 * ancestor of P. Among the rules that apply, the winner has the highest key, compared in order:
 *
 *  1. anchor depth: the depth of the folder the rule belongs to. For a rule ending in a plain
 *     name that is A itself; for a rule ending in a mask (`/d/*.log`) it is the folder the mask
 *     filters (A's parent). A recursive mask rule (`/d/*.log`, recursive) filters names at any
 *     depth below `/d` but stays anchored at `/d`, so a deeper folder rule such as include
 *     `/d/Dir1` beats it; this is why the manual says to add `D:\Dir1\*.log` per folder.
 *     Writing `**` explicitly (`/d/**\/*.log`) anchors the mask at every folder it matches,
 *     i.e. it is the shortcut for "one mask rule per folder".
 *  2. match depth: the depth of A (a rule naming the path itself beats one that covers it
 *     from above: `/d/*.log` exclude beats `/d` include for `/d/x.log`).
 *  3. literal segments: more non-wildcard segments is more specific (`/home/alice/cache`
 *     beats `/home/*\/cache`).
 *  4. exclude beats include. This is the tie-break for equal specificity; it makes the result
 *     independent of rule order, so reordering rules in the UI never changes what is copied.
 *
 * A path no rule applies to is not included. Trailing `**` is read as "recursive"
 * (`/d/**` == `/d` recursive).
 */

export interface RuleDecision {
  included: boolean;
  /** The rule that decided, or null when no rule applies (then `included` is false). */
  rule: Rule | null;
  /** Index of that rule in the list given to compileRules, or -1. */
  ruleIndex: number;
}

export interface RuleMatcher {
  /** Whether a file (or directory entry) at this absolute path belongs to the replication set. */
  isIncluded(path: string): boolean;
  /** The full decision, for logs and for the portal's "why is this file (not) protected". */
  decide(path: string): RuleDecision;
  /**
   * Whether anything below this directory might be included. Conservative: false means the
   * walk/watch/orphan scan may skip the whole subtree; true only means "look inside".
   */
  mayContainIncluded(dirPath: string): boolean;
  /**
   * Orphan processing (L7030-7034) must not delete a target file whose source path was left
   * out by an exclude rule. Files that no rule covers (e.g. outside a wildcard include) and
   * included files missing on the source are orphans and may be deleted.
   */
  isProtectedFromOrphanDeletion(path: string): boolean;
  /**
   * Whether an exclude rule may decide something below this directory. Conservative: false means an orphan
   * directory here holds nothing protected and may go whole; true means look inside it, name by name.
   */
  mayContainExcluded(dirPath: string): boolean;
}

type AnchorMode = 'self' | 'parent' | 'fixed';

interface CompiledRule {
  rule: Rule;
  index: number;
  pattern: SegmentMatcher[];
  recursive: boolean;
  exclude: boolean;
  literalCount: number;
  anchorMode: AnchorMode;
  /** Only for anchorMode 'fixed': depth of the folder a recursive mask rule belongs to. */
  fixedAnchorDepth: number;
}

type Key = [number, number, number, number];

/** Turns one validated rule into segment matchers plus what is needed to rank it. */
function compileRule(rule: Rule, index: number): CompiledRule {
  const segs = pathSegments(normalizeAbsolutePath(rule.path));
  let recursive = rule.recursive;
  while (segs.length > 0 && segs[segs.length - 1] === '**') {
    segs.pop();
    recursive = true;
  }
  let pattern = segs.map(compileSegment);
  const literalCount = pattern.filter((m) => m.kind === 'literal').length;
  const last = pattern[pattern.length - 1];
  let anchorMode: AnchorMode = last?.kind === 'glob' ? 'parent' : 'self';
  let fixedAnchorDepth = 0;
  const hasGlobstar = pattern.some((m) => m.kind === 'globstar');
  if (anchorMode === 'parent' && recursive && !hasGlobstar) {
    // A recursive mask filters names anywhere below its folder: /d/*.log -> /d/**/*.log.
    fixedAnchorDepth = pattern.length - 1;
    pattern = [...pattern.slice(0, -1), { kind: 'globstar' }, last!];
    anchorMode = 'fixed';
  }
  return { rule, index, pattern, recursive, exclude: rule.type === 'exclude', literalCount, anchorMode, fixedAnchorDepth };
}

function keyFor(c: CompiledRule, matchDepth: number): Key {
  const anchor = c.anchorMode === 'self' ? matchDepth : c.anchorMode === 'parent' ? matchDepth - 1 : c.fixedAnchorDepth;
  return [anchor, matchDepth, c.literalCount, c.exclude ? 1 : 0];
}

function better(a: Key, b: Key | null): boolean {
  if (b === null) return true;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] > b[i];
  return false;
}

export function compileRules(rules: readonly RuleInput[]): RuleMatcher {
  const compiled = RulesSchema.parse(rules).map(compileRule);

  function decide(path: string): RuleDecision {
    const segs = pathSegments(normalizeAbsolutePath(path));
    const n = segs.length;
    let best: CompiledRule | null = null;
    let bestKey: Key | null = null;
    for (const c of compiled) {
      const { namedLengths } = matchPrefixes(c.pattern, segs);
      // Deepest named node the rule applies from: the path itself, its parent, or (recursive) any ancestor.
      for (let k = namedLengths.length - 1; k >= 0; k--) {
        const j = namedLengths[k];
        if (j === n || j === n - 1 || c.recursive) {
          const key = keyFor(c, j);
          if (better(key, bestKey)) {
            best = c;
            bestKey = key;
          }
          break;
        }
      }
    }
    return best === null
      ? { included: false, rule: null, ruleIndex: -1 }
      : { included: !best.exclude, rule: best.rule, ruleIndex: best.index };
  }

  function mayContainIncluded(dirPath: string): boolean {
    const segs = pathSegments(normalizeAbsolutePath(dirPath));
    const m = segs.length;
    // The strongest rule that covers every descendant from at or above this directory.
    let inheritedKey: Key | null = null;
    let inheritedInclude = false;
    for (const c of compiled) {
      const { namedLengths, canMatchBelow } = matchPrefixes(c.pattern, segs);
      // An include that can name something below may win there; we cannot know without looking.
      if (!c.exclude && canMatchBelow) return true;
      const deepest = namedLengths[namedLengths.length - 1];
      if (deepest === undefined) continue;
      if (deepest === m && !c.recursive) {
        // Covers the direct children only. An include means children are in; an exclude
        // cannot shut out grandchildren, so it is ignored here (conservative).
        if (!c.exclude) return true;
        continue;
      }
      if (!c.recursive) continue;
      const key = keyFor(c, deepest);
      if (better(key, inheritedKey)) {
        inheritedKey = key;
        inheritedInclude = !c.exclude;
      }
    }
    return inheritedInclude;
  }

  function mayContainExcluded(dirPath: string): boolean {
    const segs = pathSegments(normalizeAbsolutePath(dirPath));
    for (const c of compiled) {
      if (!c.exclude) continue;
      const { namedLengths, canMatchBelow } = matchPrefixes(c.pattern, segs);
      // It names something below, names this directory (a rule covers its children too), or an ancestor recursively.
      if (canMatchBelow || namedLengths.includes(segs.length) || (c.recursive && namedLengths.length > 0)) return true;
    }
    return false;
  }

  return {
    decide,
    isIncluded: (path) => decide(path).included,
    mayContainIncluded,
    mayContainExcluded,
    isProtectedFromOrphanDeletion: (path) => decide(path).rule?.type === 'exclude',
  };
}
