// Bad input for the API tests: hostile values, and every one-value mutation of a valid body (each value replaced by
// each hostile value, each member removed, an unknown member added), so a test covers a body's every field.

/** Values that are wrong somewhere: wrong types, limits, encodings, paths, dates, prototype keys, sizes. */
export const HOSTILE: unknown[] = [
  null, true, 0, -1, 1.5, 2 ** 53 + 2, 1e308, -1e308,
  '', 'x'.repeat(5000), 'a\u0000b', '../../etc/passwd', '💥ü\u202e', '2026-13-45T99:99:99Z', "'; DROP TABLE jobs; --",
  [], [null], {}, JSON.parse('{"__proto__": {"polluted": true}}'), { constructor: { prototype: { polluted: true } } },
  Array.from({ length: 2000 }, (_, i) => i),
];
/** Fewer values, for large bodies (job reports, file operations): those that break arithmetic, dates and types. */
export const HOSTILE_IN_REPORTS: unknown[] = [null, true, -1, 2 ** 53 + 2, 1e308, -1e308, '', 'x'.repeat(5000), [], {}];

type Json = unknown;
type Path = (string | number)[];

/** Every path to a value inside `v` (the root is []). */
function paths(v: Json, at: Path = []): Path[] {
  const out = [at];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...at, i])));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...at, k]));
  return out;
}

/** A copy of `body` with the value at `at` changed by `change` (given its parent and key; the root is replaced). */
function edit(body: Json, at: Path, change: (parent: any, key: string | number) => void): Json {
  const copy = structuredClone(body) as any;
  let parent = copy;
  for (const k of at.slice(0, -1)) parent = parent[k];
  change(parent, at.at(-1)!);
  return copy;
}

/**
 * Every one-value mutation of `body`: each value replaced by each hostile value, each object member removed, and an
 * unknown member added to each object.
 */
export function* mutations(body: Json, values = HOSTILE): Generator<Json> {
  for (const at of paths(body)) {
    for (const h of values) yield at.length === 0 ? h : edit(body, at, (p, k) => { p[k] = structuredClone(h); });
    if (at.length === 0) continue;
    yield edit(body, at, (p, k) => { if (Array.isArray(p)) p.splice(Number(k), 1); else delete p[k]; });
    const value = at.reduce<any>((v, k) => v[k], body);
    if (value && typeof value === 'object' && !Array.isArray(value)) yield edit(body, at, (p, k) => { p[k].unknownMember = 1; });
  }
}
