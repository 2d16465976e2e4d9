// Canonical form for absolute POSIX paths (rules, source paths, mapping roots), so every
// comparison in the rules engine and path mapping works on one spelling of a path.
import { z } from 'zod';
import { TandemError } from '../errors';

/**
 * Normalises an absolute POSIX path: collapses repeated slashes, drops `.` segments and a
 * trailing slash. `..` is refused rather than resolved, because a path that climbs is either
 * a mistake or an attack, and resolving it would hide which.
 */
export function normalizeAbsolutePath(path: string): string {
  if (isCanonicalAbsolutePath(path)) return path;
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw new TandemError('path_invalid', `Path "${path}" must be absolute (start with "/").`, 400);
  }
  if (path.includes('\0')) {
    throw new TandemError('path_invalid', 'Path contains a NUL byte; remove it.', 400);
  }
  const segments: string[] = [];
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      throw new TandemError('path_invalid', `Path "${path}" contains ".."; give the path without climbing.`, 400);
    }
    segments.push(seg);
  }
  return '/' + segments.join('/');
}

/**
 * True when `path` is already in the form normalizeAbsolutePath returns (the common case, checked without
 * splitting: the target maps every path of a mirror through here several times).
 */
export function isCanonicalAbsolutePath(path: string): boolean {
  if (typeof path !== 'string' || path.charCodeAt(0) !== 47 /* / */) return false;
  if (path.length === 1) return true;
  return !path.endsWith('/') && !path.includes('//') && !path.includes('\0')
    && !path.includes('/./') && !path.includes('/../') && !path.endsWith('/.') && !path.endsWith('/..');
}

/** Segments of an already-normalised absolute path; the root "/" has none. */
export function pathSegments(normalized: string): string[] {
  return normalized === '/' ? [] : normalized.slice(1).split('/');
}

/** True when `child` is `parent` or lies below it (segment-wise, so /data2 is not inside /data). */
export function isSameOrInside(parent: string, child: string): boolean {
  const p = normalizeAbsolutePath(parent);
  const c = normalizeAbsolutePath(child);
  if (p === '/' || p === c) return true;
  return c.startsWith(p + '/');
}

/** The paths not inside another of them (normalised, sorted, distinct): removing those removes all. */
export function outermostPaths(paths: readonly string[]): string[] {
  const sorted = [...new Set(paths.map(normalizeAbsolutePath))].sort();
  const out: string[] = [];
  const kept = new Set<string>();
  for (const p of sorted) {
    const segs = pathSegments(p);
    let inside = false;
    for (let i = 0; i < segs.length && !inside; i++) inside = kept.has('/' + segs.slice(0, i).join('/'));
    if (!inside) {
      kept.add(p);
      out.push(p);
    }
  }
  return out;
}

/** Joins a normalised absolute base with a relative remainder (possibly empty). */
export function joinAbsolute(base: string, rel: string): string {
  if (rel === '') return base;
  return base === '/' ? '/' + rel : base + '/' + rel;
}

/** Remainder of `child` below `parent` ('' when equal), or null when `child` is outside. */
export function relativeBelow(parent: string, child: string): string | null {
  const p = normalizeAbsolutePath(parent);
  const c = normalizeAbsolutePath(child);
  if (p === c) return '';
  if (p === '/') return c.slice(1);
  return c.startsWith(p + '/') ? c.slice(p.length + 1) : null;
}

/** zod schema for an absolute path field; accepts any spelling normalizeAbsolutePath accepts. */
export const AbsolutePathSchema = z
  .string()
  .min(1)
  .max(4096)
  .refine((p) => p.startsWith('/'), 'must be an absolute path starting with "/"')
  .refine((p) => !p.includes('\0'), 'must not contain NUL bytes')
  .refine((p) => !p.split('/').includes('..'), 'must not contain ".." segments');
