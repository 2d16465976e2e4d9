import { describe, it, expect } from 'vitest';
import { mkdtemp, writeFile, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FailoverMonitorSchema } from '../../shared/jobs/failover-settings';
import { createCommandRunner } from '../failover';
import { ServiceMonitor } from './service-monitor';

/** A real `systemctl` stand-in on PATH: units listed in active.txt are active; restart makes a unit active. */
async function fakeSystemd() {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tandem-systemd-'));
  const state = path.join(dir, 'active.txt');
  await writeFile(state, 'web.service\n');
  await writeFile(path.join(dir, 'systemctl'), `#!/bin/sh
echo "$@" >> ${dir}/calls.log
case "$1" in
  is-active) if grep -qx "$2" ${state}; then echo active; exit 0; else echo inactive; exit 3; fi ;;
  restart) if [ "$2" = "broken.service" ]; then echo "Job failed" >&2; exit 1; fi; echo "$2" >> ${state}; exit 0 ;;
esac
exit 0
`, { mode: 0o755 });
  return { dir, runCommand: createCommandRunner({ env: { ...process.env, PATH: `${dir}:${process.env.PATH}` } }) };
}

describe('ServiceMonitor (source side of the failover monitor)', () => {
  it('reports active units ok, restarts a stopped unit once when asked, and counts a failed restart as a failure', async () => {
    const sd = await fakeSystemd();
    const monitor = FailoverMonitorSchema.parse({
      services: [{ name: 'web.service' }, { name: 'db.service', restart: true }, { name: 'broken.service', restart: true }, { name: 'cache.service' }],
    });
    const m = new ServiceMonitor(monitor, { runCommand: sd.runCommand });
    const r = await m.checkOnce();
    expect(r.map((p) => [p.target, p.ok])).toEqual([['web.service', true], ['db.service', true], ['broken.service', false], ['cache.service', false]]);
    const calls = await readFile(path.join(sd.dir, 'calls.log'), 'utf8');
    expect(calls).toContain('restart db.service');
    expect(calls).not.toContain('restart cache.service');
    expect(m.recent()).toHaveLength(4);
  });
});
