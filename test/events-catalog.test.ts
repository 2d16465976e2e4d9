// Catalog completeness: every event name raised anywhere in hub/, agent/ or shared/ must be in the catalog.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EVENT_CATALOG, eventByName } from '../shared/events/catalog';

const ROOT = path.resolve(__dirname, '..');

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'migrations' || name.startsWith('.')) continue;
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (/\.(ts|tsx|mts)$/.test(name) && !/\.test\.ts$/.test(name)) out.push(p);
  }
  return out;
}

/** Event names in `event: …` properties of objects passed to raise()/record(), including both arms of a ternary. */
export function raisedEventNames(source: string): string[] {
  const names: string[] = [];
  const call = /\b(?:raise|record)\s*\(\s*\{/g;
  for (let m = call.exec(source); m; m = call.exec(source)) {
    const window = source.slice(m.index, m.index + 600);
    const prop = /\bevent\s*:\s*([^,}\n]+)/.exec(window);
    if (!prop) continue;
    for (const lit of prop[1]!.matchAll(/['"`]([a-z][a-z0-9_]*\.[a-z0-9_.]+)['"`]/g)) names.push(lit[1]!);
  }
  return names;
}

describe('event catalog', () => {
  it('has unique ids and names, dot-delimited names and known severities', () => {
    const ids = EVENT_CATALOG.map((d) => d.id);
    const names = EVENT_CATALOG.map((d) => d.name);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(names).size).toBe(names.length);
    for (const d of EVENT_CATALOG) {
      expect(d.name).toMatch(/^[a-z]+\.[a-z_]+$/);
      expect(['info', 'warning', 'error']).toContain(d.severity);
    }
  });

  it('templates only use declared fields, and resolutions point at catalogued problems', () => {
    for (const d of EVENT_CATALOG) {
      for (const [, f] of d.template.matchAll(/\{(\w+)\}/g)) expect(d.fields, `${d.name} uses {${f}}`).toContain(f);
      if ('resolves' in d && d.resolves) expect(eventByName(d.resolves), `${d.name} resolves ${d.resolves}`).toBeDefined();
    }
  });

  it('covers every event the issue lists', () => {
    for (const n of ['agent.online', 'agent.offline', 'agent.enrolled', 'job.created', 'job.started', 'job.stopped', 'job.paused', 'job.deleted',
      'mirror.started', 'mirror.completed', 'mirror.stopped', 'verify.completed', 'replication.blocked', 'queue.exhausted', 'queue.auto_disconnected',
      'mirror.required', 'job.failover_condition_met', 'failover.started', 'failover.completed', 'failover.failed', 'failover.step_failed',
      'restore.started', 'failback.completed', 'source.fenced', 'snapshot.taken', 'snapshot.failed', 'licence.not_activated', 'licence.expiring',
      'licence.expired', 'licence.host_mismatch', 'agent.clock_skew', 'job.lag_above_threshold', 'job.lag_below_threshold']) {
      expect(eventByName(n), n).toBeDefined();
    }
  });

  it('the scanner finds raised names, including both arms of a conditional', () => {
    expect(raisedEventNames(`deps.events.raise({ event: 'job.started', orgId })`)).toEqual(['job.started']);
    expect(raisedEventNames(`bus.raise({\n  event: x ? 'a.b' : 'c.d_e', orgId })`)).toEqual(['a.b', 'c.d_e']);
  });

  it('every event raised in hub/, agent/ and shared/ is in the catalog', () => {
    const raised = new Map<string, string>();
    for (const dir of ['hub', 'agent', 'shared']) {
      for (const file of sourceFiles(path.join(ROOT, dir))) {
        for (const n of raisedEventNames(readFileSync(file, 'utf8'))) raised.set(n, path.relative(ROOT, file));
      }
    }
    // The scan must see the known call sites, or it proves nothing.
    expect(raised.get('agent.enrolled')).toBe(path.join('hub', 'routes', 'agent.ts'));
    expect(raised.has('notify.webhook_disabled')).toBe(true);
    const missing = [...raised].filter(([n]) => !eventByName(n)).map(([n, f]) => `${n} (raised in ${f})`);
    expect(missing, 'add these to shared/events/catalog.ts').toEqual([]);
  });
});
