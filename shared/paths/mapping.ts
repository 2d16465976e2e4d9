// Path mapping (manual 2.12): where a source path lands on the target, and back again for
// orphan detection. one_to_one keeps paths, all_to_one nests under <targetRoot>/<sourceName>.
import { z } from 'zod';
import { TandemError } from '../errors';
import { AbsolutePathSchema, joinAbsolute, normalizeAbsolutePath, relativeBelow } from './absolute-path';

/** A host name used as a directory name: one segment, nothing that could climb or hide. */
const SourceNameSchema = z
  .string()
  .min(1)
  .max(255)
  .refine((s) => !s.includes('/') && !s.includes('\0') && s !== '.' && s !== '..', 'must be a single path segment');

export const PathMappingSchema = z.discriminatedUnion('mode', [
  z.object({ mode: z.literal('one_to_one') }),
  z.object({ mode: z.literal('all_to_one'), targetRoot: AbsolutePathSchema, sourceName: SourceNameSchema.optional() }),
  z.object({
    mode: z.literal('custom'),
    entries: z.array(z.object({ source: AbsolutePathSchema, target: AbsolutePathSchema })).min(1),
  }),
]);
export type PathMapping = z.infer<typeof PathMappingSchema>;

function allToOneBase(mapping: { targetRoot: string; sourceName?: string }, sourceName: string): string {
  const name = mapping.sourceName ?? sourceName;
  if (!SourceNameSchema.safeParse(name).success) {
    throw new TandemError('path_mapping_invalid', `Source name "${name}" cannot be used as a directory name.`, 400);
  }
  return joinAbsolute(normalizeAbsolutePath(mapping.targetRoot), name);
}

type Entries = { source: string; target: string }[];
/** Sorted entries per mapping (a mapping is not changed once parsed; an edited job brings a new object). */
const sortedCache = new WeakMap<Entries, Record<'source' | 'target', Entries>>();

/** Custom entries normalised and sorted longest-first, so the first hit is the longest prefix. */
function sortedEntries(entries: Entries, by: 'source' | 'target'): Entries {
  let sorted = sortedCache.get(entries);
  if (!sorted) {
    const normal = entries.map((e) => ({ source: normalizeAbsolutePath(e.source), target: normalizeAbsolutePath(e.target) }));
    sorted = {
      source: [...normal].sort((a, b) => b.source.length - a.source.length),
      target: [...normal].sort((a, b) => b.target.length - a.target.length),
    };
    sortedCache.set(entries, sorted);
  }
  return sorted[by];
}

/**
 * Target path for an absolute source path. `sourceName` is the source server's name, used by
 * all_to_one unless the mapping overrides it. Throws `path_unmapped` when a custom mapping
 * has no entry covering the path (validation should have caught that; see findUnmappedRoots).
 */
export function mapSourcePath(path: string, mapping: PathMapping, sourceName: string): string {
  const src = normalizeAbsolutePath(path);
  switch (mapping.mode) {
    case 'one_to_one':
      return src;
    case 'all_to_one':
      return joinAbsolute(allToOneBase(mapping, sourceName), src.slice(1));
    case 'custom':
      for (const e of sortedEntries(mapping.entries, 'source')) {
        const rest = relativeBelow(e.source, src);
        if (rest !== null) return joinAbsolute(e.target, rest);
      }
      throw new TandemError(
        'path_unmapped',
        `No custom path mapping entry covers "${src}". Add an entry whose source contains it.`,
        422,
      );
  }
}

/** Inverse of mapSourcePath: the source path a target path stands for, or null if it is outside the mapping. */
export function unmapTargetPath(targetPath: string, mapping: PathMapping, sourceName: string): string | null {
  const tgt = normalizeAbsolutePath(targetPath);
  switch (mapping.mode) {
    case 'one_to_one':
      return tgt;
    case 'all_to_one': {
      const rest = relativeBelow(allToOneBase(mapping, sourceName), tgt);
      return rest === null ? null : '/' + rest;
    }
    case 'custom':
      for (const e of sortedEntries(mapping.entries, 'target')) {
        const rest = relativeBelow(e.target, tgt);
        if (rest !== null) return joinAbsolute(e.source, rest);
      }
      return null;
  }
}
