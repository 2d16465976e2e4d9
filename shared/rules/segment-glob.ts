// Glob patterns over absolute paths, matched one path segment at a time so the rules engine can
// tell which ancestor a pattern names and whether it could still name something below a directory.
import picomatch from 'picomatch';

export type SegmentMatcher =
  | { kind: 'literal'; text: string }
  | { kind: 'glob'; test: (segment: string) => boolean }
  | { kind: 'globstar' };

/** `**` alone is a globstar (zero or more segments); other globs match within one segment. */
export function compileSegment(segment: string): SegmentMatcher {
  if (segment === '**') return { kind: 'globstar' };
  if (!picomatch.scan(segment).isGlob) return { kind: 'literal', text: segment };
  // dot: true because on Linux a leading dot is just a name; `*.log` should catch `.x.log` too.
  const re = picomatch.makeRe(segment, { dot: true });
  return { kind: 'glob', test: (s) => re.test(s) };
}

export function isGlobSegment(segment: string): boolean {
  return compileSegment(segment).kind !== 'literal';
}

function matchOne(m: SegmentMatcher, segment: string): boolean {
  return m.kind === 'literal' ? m.text === segment : m.kind === 'glob' ? m.test(segment) : true;
}

/** Adds the positions reachable by letting globstars match zero segments. */
function closure(pattern: SegmentMatcher[], states: Set<number>): Set<number> {
  for (const i of states) {
    if (i < pattern.length && pattern[i].kind === 'globstar') states.add(i + 1);
  }
  return states;
}

/**
 * Walks `path` through the pattern as an NFA and reports, for every prefix length j (0..n),
 * whether the pattern matches path[0..j) exactly. Also reports whether, after the whole path,
 * the pattern could still match something longer (used to prune tree walks).
 */
export function matchPrefixes(
  pattern: SegmentMatcher[],
  path: string[],
): { namedLengths: number[]; canMatchBelow: boolean } {
  if (!pattern.some((m) => m.kind === 'globstar')) return matchFixedLength(pattern, path);
  const namedLengths: number[] = [];
  let states = closure(pattern, new Set([0]));
  if (states.has(pattern.length)) namedLengths.push(0);
  for (let j = 0; j < path.length && states.size > 0; j++) {
    const next = new Set<number>();
    for (const i of states) {
      if (i >= pattern.length) continue;
      const m = pattern[i];
      if (m.kind === 'globstar') next.add(i);
      else if (matchOne(m, path[j])) next.add(i + 1);
    }
    states = closure(pattern, next);
    if (states.has(pattern.length)) namedLengths.push(j + 1);
  }
  // States are only non-empty here if every segment was consumed (the loop stops early when they empty).
  let canMatchBelow = false;
  for (const i of states) if (i < pattern.length) canMatchBelow = true;
  return { namedLengths, canMatchBelow };
}

/** Fast path for patterns without `**`: they can only name the prefix of their own length. */
function matchFixedLength(pattern: SegmentMatcher[], path: string[]): { namedLengths: number[]; canMatchBelow: boolean } {
  const upto = Math.min(pattern.length, path.length);
  for (let j = 0; j < upto; j++) {
    if (!matchOne(pattern[j], path[j])) return { namedLengths: [], canMatchBelow: false };
  }
  return path.length >= pattern.length
    ? { namedLengths: [pattern.length], canMatchBelow: false }
    : { namedLengths: [], canMatchBelow: true };
}
