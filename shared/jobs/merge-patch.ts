// JSON Merge Patch (RFC 7396) for editing a stored document such as a job's settings, and the schema of such a patch,
// derived from the document's own zod schema so that no hand-written copy of every field can drift from it.
import { z } from 'zod';

/** What a merge patch of a T may hold: any key left out, objects patched in turn, null only where T may lack the key. */
export type MergePatch<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? { [K in keyof T]?: MergePatch<Exclude<T[K], undefined>> | (undefined extends T[K] ? null : never) }
    : T;

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Applies `patch` to `target` as RFC 7396 says: an object patch merges key by key, recursively; null removes the key;
 * anything else (arrays included) replaces the value whole. An undefined value counts as absent (JSON has none).
 * Returns a new value and modifies neither argument.
 */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return patch;
  // A Map and Object.fromEntries, so that a "__proto__" key stays an ordinary key instead of setting a prototype.
  const merged = new Map(Object.entries(isPlainObject(target) ? target : {}));
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) merged.delete(key);
    else if (value !== undefined) merged.set(key, mergePatch(merged.get(key), value));
  }
  return Object.fromEntries(merged);
}

function withoutDefault(schema: z.ZodType): z.ZodType {
  let s = schema;
  while (s instanceof z.ZodDefault || s instanceof z.ZodPrefault) s = s.unwrap() as z.ZodType;
  return s;
}

/** The value of one key in a patch: left out, or patched, or (where the document may lack the key) null. */
function patchField(field: z.ZodType, removable: boolean): z.ZodType {
  const value = patchOf(field instanceof z.ZodOptional ? (field.unwrap() as z.ZodType) : field);
  return removable ? value.nullable().optional() : value.optional();
}

function patchOf(schema: z.ZodType): z.ZodType {
  const s = withoutDefault(schema);
  if (s instanceof z.ZodObject) {
    const shape = Object.fromEntries(Object.entries(s.shape as Record<string, z.ZodType>).map(([key, field]) => [key, patchField(field, field instanceof z.ZodOptional)]));
    return s.def.catchall instanceof z.ZodNever ? z.strictObject(shape) : z.object(shape);
  }
  if (s instanceof z.ZodUnion && s.options.length > 1 && s.options.every((o) => o instanceof z.ZodObject)) {
    // A value of one of several shapes (a cron or an interval schedule, a kind of path mapping). A key that some shape
    // lacks may be removed, so one patch can switch shapes ({cron: null, timezone: null, intervalMin: 60}).
    const shapes = (s.options as z.ZodObject[]).map((o) => o.shape as Record<string, z.ZodType>);
    const keys = [...new Set(shapes.flatMap((shape) => Object.keys(shape)))];
    const shape = Object.fromEntries(keys.map((key) => {
      const fields = shapes.map((sh) => sh[key]).filter((f): f is z.ZodType => f !== undefined);
      const removable = fields.length < shapes.length || fields.every((f) => f instanceof z.ZodOptional);
      const values = fields.map((f) => (f instanceof z.ZodOptional ? (f.unwrap() as z.ZodType) : f));
      return [key, patchField(values.length === 1 ? values[0]! : z.union(values as [z.ZodType, z.ZodType, ...z.ZodType[]]), removable)];
    }));
    const strict = (s.options as z.ZodObject[]).every((o) => o.def.catchall instanceof z.ZodNever);
    return strict ? z.strictObject(shape) : z.object(shape);
  }
  // Arrays, strings, numbers, other unions: a patch replaces them whole, so they are checked as they are.
  return s;
}

/**
 * The schema of a merge patch of documents valid under `schema`: every key may be left out and has no default (left
 * out, it keeps its stored value); objects are patched key by key; null is accepted only for a key the document may
 * lack (an `.optional()` one), since removing any other would silently reset it to its default or leave the document
 * invalid. Refinements that span keys (orphans.moveTo for "move") are not checked here: they hold for the merged
 * document, which the caller validates with `schema` itself.
 */
export function mergePatchSchema<S extends z.ZodType>(schema: S): z.ZodType<MergePatch<z.output<S>>> {
  return patchOf(schema) as z.ZodType<MergePatch<z.output<S>>>;
}
