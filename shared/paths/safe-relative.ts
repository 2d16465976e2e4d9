// The one check the target applier runs on every path it receives: a relative path from the
// wire must stay inside the replica root, whatever the sender put in it.
import { TandemError } from '../errors';
import { joinAbsolute, normalizeAbsolutePath } from './absolute-path';

const escape = (relPath: string, why: string) =>
  new TandemError('path_escape', `Refused path "${relPath.replaceAll('\0', '\\0')}": ${why}.`, 400);

/**
 * Validates a relative path received from a peer and returns it unchanged. Only the canonical
 * spelling is accepted (no `.`, `..`, empty segments, leading or trailing slash, NUL), so a path
 * that would need "fixing" is treated as hostile instead of being silently reinterpreted.
 */
export function assertSafeRelativePath(relPath: string): string {
  if (typeof relPath !== 'string' || relPath === '') throw escape(String(relPath), 'empty path');
  if (relPath.includes('\0')) throw escape(relPath, 'contains a NUL byte');
  if (relPath.startsWith('/')) throw escape(relPath, 'absolute path where a relative one is required');
  for (const seg of relPath.split('/')) {
    if (seg === '') throw escape(relPath, 'empty segment (double or trailing slash)');
    if (seg === '.' || seg === '..') throw escape(relPath, `"${seg}" segment`);
  }
  return relPath;
}

/**
 * Resolves a peer-supplied relative path under `root` and returns the absolute result.
 * This is lexical only; the applier must still refuse to follow symlinks on the way down.
 */
export function relativeInsideRoot(root: string, relPath: string): string {
  return joinAbsolute(normalizeAbsolutePath(root), assertSafeRelativePath(relPath));
}
