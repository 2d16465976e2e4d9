// The one place the target reaches its file system: maps source paths into the job's replica roots and refuses
// anything that would leave them (.., NUL, paths outside the protected set, writes through symlinks).
import { lstatSync, type Stats } from 'node:fs';
import path from 'node:path';
import { TandemError } from '../../shared/errors';
import type { ReplicaVolumes } from './replica-volumes';
import { compileRules, type RuleMatcher, type RuleInput } from '../../shared/rules';
import { mapSourcePath, mappedTargetRoots, normalizeAbsolutePath, isSameOrInside, unmapTargetPath, type PathMapping } from '../../shared/paths';

export interface ReplicaRoot {
  sourceRoot: string;
  targetPath: string;
}

/** Names the applier uses for in-flight files; never replicated, never treated as orphans. */
export const TEMP_PREFIX = '.tandem.';
export const isTempName = (name: string) => name.startsWith(TEMP_PREFIX) && name.endsWith('.part');

/** lstat, or null when the path does not exist (also when a component of it is not a directory: a file in the way). */
export function lstatOrNull(p: string): Stats | null {
  try {
    return lstatSync(p, { throwIfNoEntry: false }) ?? null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
    throw err;
  }
}

export class ReplicaFs {
  readonly roots: ReplicaRoot[];
  readonly matcher: RuleMatcher;
  private safeDirs = new Set<string>();
  refused = 0;

  /** `volumes`: when given, nothing is resolved under a replica root that is not on its recorded file system. */
  constructor(private rules: RuleInput[], private mapping: PathMapping, private sourceName: string, private volumes?: Pick<ReplicaVolumes, 'check'>) {
    this.roots = mappedTargetRoots(rules, mapping, sourceName);
    this.matcher = compileRules(rules);
  }

  private refuse(code: string, message: string): never {
    this.refused++;
    throw new TandemError(code, message, 400);
  }

  /** Target path for a source path, checked lexically (no I/O). */
  mapLexical(sourcePath: string): { target: string; root: ReplicaRoot } {
    if (typeof sourcePath !== 'string' || sourcePath.includes('\0')) this.refuse('path_invalid', 'A path with a NUL byte was refused.');
    let src: string;
    try {
      src = normalizeAbsolutePath(sourcePath);
    } catch {
      this.refuse('path_escape', `Path "${sourcePath.slice(0, 200)}" is not a clean absolute path ('..', relative or empty segments); refused.`);
    }
    if (src !== sourcePath.replace(/\/+$/, '') && src !== sourcePath) {
      this.refuse('path_escape', `Path "${sourcePath.slice(0, 200)}" is not in canonical form; refused.`);
    }
    const root = this.roots.find((r) => isSameOrInside(r.sourceRoot, src));
    if (!root) this.refuse('path_outside_set', `Path "${src}" is outside the job's protected set; refused.`);
    const target = mapSourcePath(src, this.mapping, this.sourceName);
    if (!isSameOrInside(root.targetPath, target)) this.refuse('path_escape', `Path "${src}" maps outside the replica root "${root.targetPath}"; refused.`);
    return { target, root };
  }

  /**
   * Target path for a source path, refusing any existing symlink between the replica root and the path's
   * parent: writing through it could land anywhere on the target.
   */
  async resolve(sourcePath: string): Promise<string> {
    const { target, root } = this.mapLexical(sourcePath);
    await this.volumes?.check(root.targetPath);
    let dir = path.posix.dirname(target);
    const chain: string[] = [];
    // The root itself is checked too: an operation on its path may have made it a symlink (the source's protected
    // path became one), and nothing below it may then be written through it.
    while (dir.length >= root.targetPath.length && isSameOrInside(root.targetPath, dir)) {
      if (this.safeDirs.has(dir)) break;
      chain.push(dir);
      dir = path.posix.dirname(dir);
    }
    // Synchronous lstat: a lookup, far cheaper than a trip through the thread pool (which may be busy with fsyncs).
    // From the top down: lstat of a deeper directory would go through a symlink above it unnoticed (and fail with
    // ENOTDIR under a file).
    for (const d of chain.reverse()) {
      const st = lstatOrNull(d);
      if (!st) return target; // parents will be created as real dirs (replacing a file in the way)
      if (st.isSymbolicLink()) {
        this.refuse('path_through_symlink', d === root.targetPath
          ? `"${sourcePath}" would be written through the replica root "${d}", which is a symlink on the target; refused (map the job onto a real directory).`
          : `"${sourcePath}" would be written through the symlink "${d}" on the target; refused.`);
      }
      if (!st.isDirectory()) return target; // a file in the way: the op replaces or fails visibly
      this.safeDirs.add(d);
    }
    return target;
  }

  /** Ops that can turn a directory into something else invalidate what resolve() has learnt. */
  forgetDirs(): void {
    this.safeDirs.clear();
  }

  sourcePathOf(targetPath: string): string | null {
    return unmapTargetPath(targetPath, this.mapping, this.sourceName);
  }
}
