import { describe, expect, it } from 'vitest';
import { compileRules } from './matcher';
import type { RuleInput } from './schema';

const inc = (path: string, recursive = true): RuleInput => ({ path, type: 'include', recursive });
const exc = (path: string, recursive = true): RuleInput => ({ path, type: 'exclude', recursive });

describe('compileRules: nearest rule in the tree decides', () => {
  it('includes everything below a recursive include and nothing outside it', () => {
    const m = compileRules([inc('/data')]);
    expect(m.isIncluded('/data')).toBe(true);
    expect(m.isIncluded('/data/a/b/c.txt')).toBe(true);
    expect(m.isIncluded('/data2/x')).toBe(false);
    expect(m.isIncluded('/etc/passwd')).toBe(false);
  });

  it('a deeper exclude carves a hole and a still deeper include re-opens it', () => {
    const m = compileRules([inc('/data'), exc('/data/tmp'), inc('/data/tmp/keep')]);
    expect(m.isIncluded('/data/x')).toBe(true);
    expect(m.isIncluded('/data/tmp/x')).toBe(false);
    expect(m.isIncluded('/data/tmp/keep/x/y')).toBe(true);
  });

  it('rule order does not matter', () => {
    const a = compileRules([inc('/data'), exc('/data/tmp')]);
    const b = compileRules([exc('/data/tmp'), inc('/data')]);
    for (const p of ['/data/x', '/data/tmp/y', '/data/tmp']) expect(a.isIncluded(p)).toBe(b.isIncluded(p));
  });

  it('a non-recursive rule covers the directory and its direct contents only', () => {
    const m = compileRules([inc('/data', false)]);
    expect(m.isIncluded('/data')).toBe(true);
    expect(m.isIncluded('/data/file.txt')).toBe(true);
    expect(m.isIncluded('/data/sub')).toBe(true);
    expect(m.isIncluded('/data/sub/deeper.txt')).toBe(false);
  });

  it('a non-recursive exclude under a recursive include drops direct files but keeps grandchildren', () => {
    const m = compileRules([inc('/data'), exc('/data/logs', false)]);
    expect(m.isIncluded('/data/logs/today.log')).toBe(false);
    expect(m.isIncluded('/data/logs/archive/old.log')).toBe(true);
  });

  it('a single-file rule wins over its folder', () => {
    const m = compileRules([exc('/data'), inc('/data/important.db')]);
    expect(m.isIncluded('/data/important.db')).toBe(true);
    expect(m.isIncluded('/data/other.db')).toBe(false);
  });

  it('paths no rule covers are not included and not protected from orphan deletion', () => {
    const m = compileRules([inc('/data')]);
    expect(m.decide('/srv/x')).toEqual({ included: false, rule: null, ruleIndex: -1 });
    expect(m.isProtectedFromOrphanDeletion('/srv/x')).toBe(false);
  });

  it('decide reports which rule decided', () => {
    const rules = [inc('/data'), exc('/data/tmp')];
    const m = compileRules(rules);
    expect(m.decide('/data/tmp/a')).toMatchObject({ included: false, ruleIndex: 1, rule: { path: '/data/tmp' } });
  });

  it('an empty rule list includes nothing', () => {
    expect(compileRules([]).isIncluded('/x')).toBe(false);
  });

  it('a rule on / covers the whole tree', () => {
    const m = compileRules([inc('/'), exc('/proc')]);
    expect(m.isIncluded('/etc/hosts')).toBe(true);
    expect(m.isIncluded('/proc/1/status')).toBe(false);
  });
});

describe('compileRules: wildcards (manual L6585-6589)', () => {
  it('a mask in a folder beats the include of the same folder', () => {
    const m = compileRules([inc('/d'), exc('/d/*.log', false)]);
    expect(m.isIncluded('/d/app.log')).toBe(false);
    expect(m.isIncluded('/d/app.txt')).toBe(true);
    // non-recursive mask: logs in subfolders are still included
    expect(m.isIncluded('/d/sub/app.log')).toBe(true);
  });

  it('a recursive mask filters names at every depth below its folder', () => {
    const m = compileRules([inc('/d'), exc('/d/*.log')]);
    expect(m.isIncluded('/d/a.log')).toBe(false);
    expect(m.isIncluded('/d/x/y/z.log')).toBe(false);
    expect(m.isIncluded('/d/x/y/z.txt')).toBe(true);
  });

  it('a deeper folder rule beats a shallower recursive mask, as the manual warns', () => {
    const m = compileRules([inc('/d'), inc('/d/Dir1'), exc('/d/*.log')]);
    expect(m.isIncluded('/d/a.log')).toBe(false);
    expect(m.isIncluded('/d/Dir1/a.log')).toBe(true);
    // ...so the manual's fix, one mask rule per folder rule, excludes it again
    const fixed = compileRules([inc('/d'), inc('/d/Dir1'), exc('/d/*.log'), exc('/d/Dir1/*.log')]);
    expect(fixed.isIncluded('/d/Dir1/a.log')).toBe(false);
    expect(fixed.isIncluded('/d/Dir1/a.txt')).toBe(true);
  });

  it('an explicit ** mask applies in every folder, beating deeper folder rules', () => {
    const m = compileRules([inc('/d'), inc('/d/Dir1'), exc('/d/**/*.log')]);
    expect(m.isIncluded('/d/Dir1/a.log')).toBe(false);
    expect(m.isIncluded('/d/Dir1/deep/a.log')).toBe(false);
    expect(m.isIncluded('/d/Dir1/a.txt')).toBe(true);
  });

  it('a named file beats a mask that matches it', () => {
    const m = compileRules([inc('/d'), exc('/d/*.log'), inc('/d/keep.log')]);
    expect(m.isIncluded('/d/keep.log')).toBe(true);
    expect(m.isIncluded('/d/drop.log')).toBe(false);
  });

  it('wildcards in a middle segment match one directory level', () => {
    const m = compileRules([inc('/home'), exc('/home/*/.cache')]);
    expect(m.isIncluded('/home/alice/.cache/x')).toBe(false);
    expect(m.isIncluded('/home/alice/docs/x')).toBe(true);
    expect(m.isIncluded('/home/a/b/.cache/x')).toBe(true);
  });

  it('? matches exactly one character and * matches dotfiles', () => {
    const m = compileRules([inc('/d/file?.txt', false), inc('/e/*', false)]);
    expect(m.isIncluded('/d/file1.txt')).toBe(true);
    expect(m.isIncluded('/d/file12.txt')).toBe(false);
    expect(m.isIncluded('/e/.hidden')).toBe(true);
  });

  it('a wildcard include leaves unmatched files uncovered, hence orphan-deletable (L7030-7034)', () => {
    const m = compileRules([inc('/d/*.txt', false)]);
    expect(m.isIncluded('/d/a.txt')).toBe(true);
    expect(m.isIncluded('/d/a.bin')).toBe(false);
    expect(m.isProtectedFromOrphanDeletion('/d/a.bin')).toBe(false);
  });

  it('files left out by an exclude are protected from orphan deletion (L7030-7034)', () => {
    const m = compileRules([inc('/d'), exc('/d/*.tmp')]);
    expect(m.isProtectedFromOrphanDeletion('/d/x/a.tmp')).toBe(true);
    expect(m.isProtectedFromOrphanDeletion('/d/x/a.txt')).toBe(false);
  });

  it('trailing ** means recursive', () => {
    const m = compileRules([inc('/d/**', false)]);
    expect(m.isIncluded('/d/a/b/c')).toBe(true);
  });
});

describe('compileRules: tie-breaks', () => {
  it('exclude wins over an include of exactly the same specificity, whatever the order', () => {
    for (const rules of [[inc('/d'), exc('/d')], [exc('/d'), inc('/d')]]) {
      expect(compileRules(rules).isIncluded('/d/x')).toBe(false);
    }
    const masks = compileRules([inc('/d'), inc('/d/a*.log'), exc('/d/*.log')]);
    expect(masks.isIncluded('/d/abc.log')).toBe(false);
  });

  it('more literal segments beat wildcard segments at the same depth', () => {
    const m = compileRules([inc('/home'), exc('/home/*/cache'), inc('/home/alice/cache')]);
    expect(m.isIncluded('/home/alice/cache/f')).toBe(true);
    expect(m.isIncluded('/home/bob/cache/f')).toBe(false);
  });
});

describe('compileRules: path normalisation', () => {
  it('treats trailing slashes, double slashes and . segments as the same path', () => {
    const m = compileRules([inc('/data/'), exc('//data//tmp/./')]);
    expect(m.isIncluded('/data/x/')).toBe(true);
    expect(m.isIncluded('/data//tmp/y')).toBe(false);
    expect(m.isIncluded('/data/./tmp/y')).toBe(false);
  });

  it('refuses relative paths and .. in rules and queries', () => {
    expect(() => compileRules([inc('data')])).toThrow();
    expect(() => compileRules([inc('/data/../etc')])).toThrow();
    const m = compileRules([inc('/data')]);
    expect(() => m.isIncluded('/data/../etc/shadow')).toThrow(/\.\./);
    expect(() => m.isIncluded('relative/path')).toThrow(/absolute/);
  });

  it('defaults recursive to true when omitted', () => {
    const m = compileRules([{ path: '/d', type: 'include' }]);
    expect(m.isIncluded('/d/a/b')).toBe(true);
  });
});

describe('mayContainIncluded: pruning a tree walk', () => {
  it('prunes a fully excluded subtree and keeps the rest', () => {
    const m = compileRules([inc('/data'), exc('/data/tmp')]);
    expect(m.mayContainIncluded('/data')).toBe(true);
    expect(m.mayContainIncluded('/data/tmp')).toBe(false);
    expect(m.mayContainIncluded('/data/tmp/deeper')).toBe(false);
    expect(m.mayContainIncluded('/srv')).toBe(false);
  });

  it('descends towards a deeper include through uncovered and excluded ancestors', () => {
    const m = compileRules([exc('/data'), inc('/data/a/b')]);
    expect(m.mayContainIncluded('/')).toBe(true);
    expect(m.mayContainIncluded('/data')).toBe(true);
    expect(m.mayContainIncluded('/data/a')).toBe(true);
    expect(m.mayContainIncluded('/data/c')).toBe(false);
  });

  it('keeps directories a wildcard include could match below', () => {
    const m = compileRules([inc('/home/*/docs')]);
    expect(m.mayContainIncluded('/home')).toBe(true);
    expect(m.mayContainIncluded('/home/alice')).toBe(true);
    expect(m.mayContainIncluded('/var')).toBe(false);
  });

  it('keeps everything below a recursive mask include, and prunes below a non-recursive one', () => {
    expect(compileRules([inc('/d/*.txt')]).mayContainIncluded('/d/x/y')).toBe(true);
    const flat = compileRules([inc('/d/*.txt', false)]);
    expect(flat.mayContainIncluded('/d')).toBe(true);
    expect(flat.mayContainIncluded('/d/x')).toBe(false);
  });

  it('a non-recursive include covers direct children only', () => {
    const m = compileRules([inc('/d', false)]);
    expect(m.mayContainIncluded('/d')).toBe(true);
    expect(m.mayContainIncluded('/d/sub')).toBe(false);
  });

  it('agrees with isIncluded: never prunes a directory holding an included file', () => {
    const rules = [inc('/d'), exc('/d/x'), inc('/d/x/y/*.keep'), exc('/d/*.log'), inc('/d/z', false)];
    const m = compileRules(rules);
    const files = ['/d/x/y/a.keep', '/d/x/y/z/b.keep', '/d/x/q.txt', '/d/z/w.txt', '/d/z/k/w.txt', '/d/a/b.log', '/d/a/b.txt'];
    for (const f of files) {
      if (!m.isIncluded(f)) continue;
      const segs = f.split('/').slice(1, -1);
      for (let i = 0; i <= segs.length; i++) {
        const dir = '/' + segs.slice(0, i).join('/');
        expect(m.mayContainIncluded(dir), `${dir} holds ${f}`).toBe(true);
      }
    }
    expect(m.mayContainIncluded('/d/x/q')).toBe(false);
  });
});

describe('mayContainExcluded: orphan directories that may hold protected files', () => {
  it('no exclude rule: an orphan directory holds nothing protected', () => {
    expect(compileRules([inc('/data')]).mayContainExcluded('/data/gone')).toBe(false);
  });

  it('a recursive mask exclude reaches every directory below its folder, and none elsewhere', () => {
    const m = compileRules([inc('/data'), exc('/data/*.log')]);
    expect(m.mayContainExcluded('/data/gone')).toBe(true);
    expect(m.mayContainExcluded('/data/gone/deeper')).toBe(true);
    expect(m.mayContainExcluded('/srv')).toBe(false);
  });

  it('a non-recursive exclude reaches its own directory only; a deeper exclude the directories above it', () => {
    const m = compileRules([inc('/data'), exc('/data/logs/*.log', false), exc('/data/a/b/c')]);
    expect(m.mayContainExcluded('/data/logs')).toBe(true);
    expect(m.mayContainExcluded('/data/logs/old')).toBe(false);
    expect(m.mayContainExcluded('/data/a')).toBe(true);
    expect(m.mayContainExcluded('/data/x')).toBe(false);
  });
});
