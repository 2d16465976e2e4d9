// Small tmpfs mounts for tests that fill a disk. Mounting needs root (CAP_SYS_ADMIN); `canMountTmpfs` says whether
// this machine allows it, so such tests skip instead of failing where it does not.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function mountTmpfs(dir: string, sizeMB: number): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMB}m`, 'tandem-test', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Grows (or shrinks) a mounted tmpfs: the space an operator frees or adds. */
export function resizeTmpfs(dir: string, sizeMB: number): void {
  execFileSync('mount', ['-o', `remount,size=${sizeMB}m`, dir], { stdio: 'ignore' });
}

export function unmount(dir: string): void {
  execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
}

export const canMountTmpfs = (() => {
  const probe = mkdtempSync(path.join(os.tmpdir(), 'tandem-mount-probe-'));
  const ok = mountTmpfs(probe, 1);
  if (ok) execFileSync('umount', [probe]);
  rmSync(probe, { recursive: true, force: true });
  return ok;
})();
