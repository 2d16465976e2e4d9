// Mounts for tests: small tmpfs volumes to fill, and a loop-device volume that can be unmounted and mounted back on
// the same device. Mounting needs root (CAP_SYS_ADMIN); `canMountTmpfs` and `canMountLoop` say whether this machine
// allows it, so such tests skip instead of failing where it does not.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
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

/** An ext4 volume on a loop device (kept attached, so it mounts back with the same device number). */
export interface LoopVolume {
  device: string;
  mount(at: string): void;
  detach(): void;
  /** Puts a new, empty file system on the same loop device (a new disk in the old one's slot: same device number). */
  replaceDisk(image: string): void;
}

export function loopVolume(image: string, sizeMB: number): LoopVolume {
  execFileSync('truncate', ['-s', `${sizeMB}M`, image]);
  execFileSync('mkfs.ext4', ['-q', '-F', image], { stdio: 'ignore' });
  const device = execFileSync('losetup', ['--find', '--show', image], { encoding: 'utf8' }).trim();
  return {
    device,
    mount: (at) => execFileSync('mount', [device, at], { stdio: 'ignore' }),
    detach: () => execFileSync('losetup', ['-d', device], { stdio: 'ignore' }),
    replaceDisk: (next) => {
      execFileSync('losetup', ['-d', device], { stdio: 'ignore' });
      execFileSync('truncate', ['-s', `${sizeMB}M`, next]);
      execFileSync('mkfs.ext4', ['-q', '-F', next], { stdio: 'ignore' });
      execFileSync('losetup', [device, next], { stdio: 'ignore' });
    },
  };
}

/** Whether loop volumes can be made and mounted here (asked only by the tests that use them: it runs mkfs). */
export function canMountLoop(): boolean {
  if (!canMountTmpfs) return false;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tandem-loop-probe-'));
  let v: LoopVolume | undefined;
  try {
    v = loopVolume(path.join(dir, 'probe.img'), 8);
    const at = path.join(dir, 'mnt');
    mkdirSync(at);
    v.mount(at); // attaching is not enough: some containers allow loop devices but not mounting them
    execFileSync('umount', [at]);
    return true;
  } catch {
    return false;
  } finally {
    try { v?.detach(); } catch { /* not attached */ }
    rmSync(dir, { recursive: true, force: true });
  }
}
