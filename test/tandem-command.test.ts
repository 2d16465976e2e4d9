// The installed `tandem` command (agent/bin/tandem): node started in place of the shell, with glibc's allocator tuned.
import { readFileSync, readlinkSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { startHubProcess, type HubProc } from './support/processes';

const environOf = (pid: number): Record<string, string> =>
  Object.fromEntries(readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').filter(Boolean).map((kv) => {
    const at = kv.indexOf('=');
    return [kv.slice(0, at), kv.slice(at + 1)];
  }));

let hub: HubProc | undefined;
afterEach(async () => {
  await hub?.stop();
  hub = undefined;
});

describe('the tandem command', () => {
  it('execs node itself (same pid, so signals reach it) with a fixed malloc mmap threshold', async () => {
    hub = await startHubProcess();
    const pid = hub.child.pid!;
    expect(readlinkSync(`/proc/${pid}/exe`)).toBe(readlinkSync(`/proc/${process.pid}/exe`));
    expect(environOf(pid).GLIBC_TUNABLES).toMatch(/glibc\.malloc\.mmap_threshold=33554432/);
  });

  it("keeps an operator's own GLIBC_TUNABLES", async () => {
    hub = await startHubProcess({ env: { GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' } });
    expect(environOf(hub.child.pid!).GLIBC_TUNABLES).toBe('glibc.malloc.arena_max=2');
  });
});
