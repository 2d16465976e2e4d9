import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFakeBin, type FakeBin } from './testing/fake-bin';
import { restartService, serviceActive, startServices, stopServices, systemctlHint, systemdUnavailable } from './services';

// A fake systemctl: logs its arguments; bad.service fails to start, missing.service does not exist,
// up.service is the only active unit.
const FAKE_SYSTEMCTL = `
case "$2" in
  bad.service) echo "Job for bad.service failed because the control process exited with error code." >&2; exit 1;;
  missing.service) echo "Failed to $1 missing.service: Unit missing.service not found." >&2; exit 5;;
esac
if [ "$1" = is-active ]; then
  if [ "$2" = up.service ]; then echo active; exit 0; fi
  echo inactive; exit 3
fi
exit 0`;

let bin: FakeBin;
beforeEach(async () => {
  bin = await createFakeBin();
  await bin.add('systemctl', FAKE_SYSTEMCTL);
});
afterEach(() => bin.cleanup());

describe('startServices / stopServices', () => {
  it('starts units in list order through systemctl', async () => {
    const r = await startServices(['db.service', 'app.service', 'web'], { runCommand: bin.runner() });
    expect(r).toMatchObject({ step: 'services.start', ok: true, detail: 'Started db.service, app.service, web.' });
    expect(await bin.calls()).toEqual(['systemctl start db.service', 'systemctl start app.service', 'systemctl start web']);
  });

  it('stops at the first unit that fails to start and names the ones not attempted', async () => {
    const r = await startServices(['db.service', 'bad.service', 'app.service'], { runCommand: bin.runner() });
    expect(r.ok).toBe(false);
    expect(r.detail).toContain('Started db.service.');
    expect(r.detail).toContain('bad.service failed to start (Job for bad.service failed');
    expect(r.detail).toContain('journalctl -u bad.service');
    expect(r.detail).toContain('Not attempted after the failure: app.service.');
    expect(r.output).toContain('control process exited with error code');
    expect(await bin.calls()).toEqual(['systemctl start db.service', 'systemctl start bad.service']);
  });

  it('stops every unit in the order given even when one fails', async () => {
    const r = await stopServices(['app.service', 'missing.service', 'db.service'], { runCommand: bin.runner() });
    expect(r.ok).toBe(false);
    expect(r.detail).toContain('Stopped app.service, db.service.');
    expect(r.detail).toContain('does not exist on this host');
    expect(await bin.calls()).toEqual(['systemctl stop app.service', 'systemctl stop missing.service', 'systemctl stop db.service']);
  });

  it('skips an empty list without running systemctl, even where systemd is absent', async () => {
    const empty = await createFakeBin();
    try {
      const r = await startServices([], { runCommand: empty.runner() });
      expect(r).toMatchObject({ ok: true, skipped: true });
    } finally {
      await empty.cleanup();
    }
  });

  it('says systemd is not available when systemctl is not installed', async () => {
    const empty = await createFakeBin(); // PATH holds nothing
    try {
      const r = await startServices(['db.service'], { runCommand: empty.runner() });
      expect(r.ok).toBe(false);
      expect(r.detail).toContain('systemd is not available on this host');
      expect((await serviceActive('db.service', { runCommand: empty.runner() })).state).toBe('unknown');
    } finally {
      await empty.cleanup();
    }
  });

  it('says systemd is not available when systemctl exists but systemd is not running (containers)', async () => {
    await bin.add('systemctl', 'echo "System has not been booted with systemd as init system (PID 1). Can\'t operate." >&2; exit 1');
    const r = await stopServices(['db.service'], { runCommand: bin.runner() });
    expect(r.ok).toBe(false);
    expect(r.detail).toMatch(/^systemd is not available on this host \(System has not been booted/);
  });

  it('refuses a name systemctl would read as an option, without calling it', async () => {
    const r = await startServices(['--force'], { runCommand: bin.runner() });
    expect(r.ok).toBe(false);
    expect(r.detail).toContain('is not a systemd unit name');
    expect(await bin.calls()).toEqual([]);
  });

  it('reports a systemctl that hangs as a failure at the timeout', async () => {
    await bin.add('systemctl', 'exec /bin/sleep 30');
    const r = await startServices(['db.service'], { runCommand: bin.runner(), timeoutMs: 200 });
    expect(r.ok).toBe(false);
    expect(r.detail).toContain('did not return in time');
  });
});

describe('restartService / serviceActive', () => {
  it('restarts one unit', async () => {
    const r = await restartService('app.service', { runCommand: bin.runner() });
    expect(r).toMatchObject({ step: 'services.restart', ok: true, detail: 'Restarted app.service.' });
    expect(await bin.calls()).toEqual(['systemctl restart app.service']);
  });

  it('reads the state from systemctl is-active', async () => {
    expect(await serviceActive('up.service', { runCommand: bin.runner() })).toMatchObject({ active: true, state: 'active' });
    expect(await serviceActive('down.service', { runCommand: bin.runner() })).toMatchObject({ active: false, state: 'inactive' });
    expect(await bin.calls()).toEqual(['systemctl is-active up.service', 'systemctl is-active down.service']);
  });
});

describe('pure helpers', () => {
  it('recognise when systemd cannot be used at all', () => {
    expect(systemdUnavailable({ code: 127, stdout: '', stderr: '', missing: true })).toContain('systemctl was not found');
    expect(systemdUnavailable({ code: 1, stdout: '', stderr: 'Failed to connect to bus: No such file or directory' })).toContain('not available');
    expect(systemdUnavailable({ code: 1, stdout: '', stderr: 'Job failed' })).toBeNull();
  });

  it('give a fix for permission problems', () => {
    expect(systemctlHint('x', { code: 1, stdout: '', stderr: 'Failed to start x.service: Access denied' })).toContain('polkit');
    expect(systemctlHint('x', { code: 1, stdout: '', stderr: 'Interactive authentication required.' })).toContain('root');
  });
});
