import { describe, it, expect } from 'vitest';
import { z } from 'zod';
import { mergePatch, mergePatchSchema } from './merge-patch';
import { FilesJobSpec, JobPatch } from './definition';

describe('mergePatch', () => {
  it('follows the examples of RFC 7396 appendix A', () => {
    const cases: Array<[unknown, unknown, unknown]> = [
      [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
      [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
      [{ a: 'b' }, { a: null }, {}],
      [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
      [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
      [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
      [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
      [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
      [['a', 'b'], ['c', 'd'], ['c', 'd']],
      [{ a: 'b' }, ['c'], ['c']],
      [{ a: 'foo' }, null, null],
      [{ a: 'foo' }, 'bar', 'bar'],
      [{ e: null }, { a: 1 }, { e: null, a: 1 }],
      [[1, 2], { a: 'b', c: null }, { a: 'b' }],
      [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
    ];
    for (const [target, patch, result] of cases) expect(mergePatch(target, patch), JSON.stringify([target, patch])).toEqual(result);
  });

  it('merges nested objects key by key and replaces arrays whole', () => {
    const stored = { verify: { schedule: { cron: '0 3 * * *', timezone: 'UTC' }, mirrorDifferences: false }, monitor: { addresses: ['a', 'b'], intervalSec: 5 } };
    expect(mergePatch(stored, { verify: { mirrorDifferences: true }, monitor: { addresses: ['c'] } })).toEqual({
      verify: { schedule: { cron: '0 3 * * *', timezone: 'UTC' }, mirrorDifferences: true },
      monitor: { addresses: ['c'], intervalSec: 5 },
    });
  });

  it('treats an undefined value as absent, not as a removal or a reset', () => {
    expect(mergePatch({ a: 1, b: { c: 2 } }, { a: undefined, b: { c: undefined } })).toEqual({ a: 1, b: { c: 2 } });
  });

  it('modifies neither the target nor the patch', () => {
    const target = { a: { b: 1, c: [1] } };
    const patch = { a: { b: null, d: 2 } };
    const before = structuredClone([target, patch]);
    mergePatch(target, patch);
    expect([target, patch]).toEqual(before);
  });

  it('keeps a "__proto__" key an ordinary key instead of setting the prototype', () => {
    const merged = mergePatch({}, JSON.parse('{"__proto__": {"polluted": true}}')) as Record<string, unknown>;
    expect(Object.getPrototypeOf(merged)).toBe(Object.prototype);
    expect((merged as { polluted?: boolean }).polluted).toBeUndefined();
    expect(Object.keys(merged)).toEqual(['__proto__']);
  });
});

describe('mergePatchSchema', () => {
  const Doc = z.strictObject({
    required: z.string(),
    defaulted: z.number().default(3),
    optional: z.string().optional(),
    nested: z.strictObject({ x: z.boolean().default(false), y: z.string().optional() }).default({ x: false }),
    list: z.array(z.strictObject({ n: z.number() })).default([]),
    shape: z.union([z.strictObject({ cron: z.string(), timezone: z.string().default('UTC') }), z.strictObject({ intervalMin: z.number() })]).optional(),
  }).refine((d) => d.required !== 'forbidden', 'refined');
  const Patch = mergePatchSchema(Doc);

  it('fills in no defaults: what a patch leaves out stays out', () => {
    expect(Patch.parse({ nested: { y: 'b' } })).toEqual({ nested: { y: 'b' } });
    expect(Patch.parse({})).toEqual({});
  });

  it('accepts null only for a key the document may lack', () => {
    expect(Patch.safeParse({ optional: null, nested: { y: null }, shape: null }).success).toBe(true);
    for (const [patch, field] of [[{ required: null }, 'required'], [{ defaulted: null }, 'defaulted'], [{ nested: null }, 'nested'],
      [{ nested: { x: null } }, 'nested.x'], [{ list: null }, 'list']] as const) {
      const r = Patch.safeParse(patch);
      expect(r.success, JSON.stringify(patch)).toBe(false);
      expect(r.error!.issues.map((i) => i.path.join('.')), JSON.stringify(patch)).toEqual([field]);
    }
  });

  it('checks values and unknown keys at every level, and array items whole', () => {
    expect(Patch.safeParse({ defaulted: 'three' }).success).toBe(false);
    expect(Patch.safeParse({ nested: { z: 1 } }).success).toBe(false);
    expect(Patch.safeParse({ surprise: 1 }).success).toBe(false);
    expect(Patch.safeParse({ list: [{}] }).success).toBe(false);
  });

  it('leaves refinements to the merged document', () => {
    expect(Patch.safeParse({ required: 'forbidden' }).success).toBe(true);
    expect(Doc.safeParse(mergePatch({ required: 'ok' }, { required: 'forbidden' })).success).toBe(false);
  });

  it('lets one patch switch a value between the shapes of a union, and the merged value must be one of them', () => {
    const stored = Doc.parse({ required: 'r', shape: { cron: '0 3 * * *', timezone: 'Europe/Berlin' } });
    expect(Doc.parse(mergePatch(stored, Patch.parse({ shape: { cron: '0 4 * * *' } }))).shape).toEqual({ cron: '0 4 * * *', timezone: 'Europe/Berlin' });
    const switched = Patch.parse({ shape: { cron: null, timezone: null, intervalMin: 60 } });
    expect(Doc.parse(mergePatch(stored, switched)).shape).toEqual({ intervalMin: 60 });
    expect(Doc.safeParse(mergePatch(stored, Patch.parse({ shape: { intervalMin: 60 } }))).success).toBe(false);
  });
});

describe('JobPatch', () => {
  const stored = FilesJobSpec.parse({
    rules: [{ path: '/data', type: 'include' }],
    mirror: { mode: 'all', blockChecksum: false },
    orphans: { action: 'move', moveTo: '/orphans' },
    verify: { schedule: { cron: '0 3 * * *', timezone: 'Europe/Berlin' }, newerOnly: true },
    failoverMonitor: { addresses: ['10.0.0.1', '10.0.0.2'], failoverTimeSec: 60 },
    failover: { scripts: { preFailover: { path: '/opt/pre.sh' } }, identity: { mode: 'move_addresses', addresses: [{ cidr: '10.0.0.1/24', device: 'eth0' }] } },
  });
  const edit = (patch: unknown) => {
    const { name: _name, ...changes } = JobPatch.parse(patch);
    return FilesJobSpec.parse(mergePatch(stored, changes));
  };

  it('changing one field of a settings object keeps the others, nested ones included', () => {
    expect(edit({ verify: { mirrorDifferences: true } }).verify).toEqual({ ...stored.verify, mirrorDifferences: true });
    expect(edit({ mirror: { newerOnly: true } }).mirror).toEqual({ ...stored.mirror, newerOnly: true });
    expect(edit({ orphans: { action: 'keep' } }).orphans).toEqual({ action: 'keep', moveTo: '/orphans' });
    expect(edit({ failover: { identity: { dnsHook: { url: 'https://dns.example/hook' } } } }).failover).toEqual({
      ...stored.failover, identity: { ...stored.failover.identity, dnsHook: { url: 'https://dns.example/hook', ttlSec: 300 } },
    });
    const unchanged = edit({ compression: 9 });
    expect(unchanged).toEqual({ ...stored, compression: 9 });
  });

  it('replaces arrays whole', () => {
    const edited = edit({ failoverMonitor: { addresses: ['10.0.0.9'] } });
    expect(edited.failoverMonitor).toEqual({ ...stored.failoverMonitor, addresses: ['10.0.0.9'] });
  });

  it('null removes an optional setting', () => {
    expect(edit({ verify: { schedule: null } }).verify).toEqual({ mirrorDifferences: false, newerOnly: true, blockChecksum: false });
    expect(edit({ failover: { scripts: { preFailover: null } } }).failover.scripts).toEqual({});
    expect(edit({ orphans: { action: 'delete', moveTo: null } }).orphans).toEqual({ action: 'delete' });
  });

  it('null where a setting cannot be removed is refused, naming the field', () => {
    for (const [patch, field] of [[{ verify: { mirrorDifferences: null } }, 'verify.mirrorDifferences'], [{ compression: null }, 'compression'],
      [{ rules: null }, 'rules'], [{ mirror: null }, 'mirror'], [{ name: null }, 'name'], [{ verify: { schedule: { cron: null } } }, 'verify.schedule.cron']] as const) {
      const r = JobPatch.safeParse(patch);
      expect(r.success, JSON.stringify(patch)).toBe(false);
      expect(r.error!.issues.map((i) => i.path.join('.')), JSON.stringify(patch)).toEqual([field]);
    }
  });

  it('a merged result that breaks a cross-field rule is refused by the create schema', () => {
    // moveTo is optional, but "move" needs it.
    expect(() => edit({ orphans: { moveTo: null } })).toThrow(/orphans\.moveTo is required/);
  });
});
