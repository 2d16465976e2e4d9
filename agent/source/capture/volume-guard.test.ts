import { describe, expect, it } from 'vitest';
import { findVolumeChanges } from './volume-guard';
import type { Observation, Observed } from './types';

const node = (key: string, kind: Observed['kind'] = 'dir'): Observed => ({ key, kind, size: 0, mtimeMs: 0, ctimeMs: 0, mode: 0o755, uid: 0, gid: 0, nlink: 1 });
const model = new Map<string, Observed>([['/data', node('64:2:0')], ['/data/vol', node('70:2:0')], ['/data/f', node('64:9:0', 'file')]]);
const tree = { get: (p: string) => model.get(p) as never };
const seen = (path: string, now: Observed | null): Observation => ({ path, now, content: false });

describe('findVolumeChanges', () => {
  it('a directory of the model now on another device is a volume change (an unmount leaves the mount point)', () => {
    expect(findVolumeChanges([seen('/data/vol', node('64:77:0'))], tree, () => null)).toEqual([{ path: '/data/vol', was: '70', now: '64', wasKey: '70:2:0' }]);
  });

  it('another directory at the top of a volume on the same device number is another volume (a new disk in its slot)', () => {
    // /data/vol is a mount point (70 under 64): a new file system there has a new root directory.
    expect(findVolumeChanges([seen('/data/vol', node('70:2:999'))], tree, (p) => (p === '/data' ? '64' : null)))
      .toEqual([{ path: '/data/vol', was: '70', now: '70', wasKey: '70:2:0' }]);
    // A directory replaced by another on its parent's file system is an ordinary change.
    expect(findVolumeChanges([seen('/data/vol', node('70:9:5'))], tree, (p) => (p === '/data' ? '70' : null))).toEqual([]);
  });

  it('the same device, a new directory, a file, or nothing there is not', () => {
    expect(findVolumeChanges([
      seen('/data', node('64:5:1')), // replaced by another directory on the same file system
      seen('/data/new', node('80:2:0')), // not in the model
      seen('/data/f', node('80:9:0', 'file')),
    ], tree, (p) => (p === '/data' ? '64' : null))).toEqual([]);
  });

  it('what is gone under a directory now on another device points at that directory (inotify reports only the files)', () => {
    const deep = new Map(model);
    deep.set('/data/vol/sub', node('70:3:0'));
    const t = { get: (p: string) => deep.get(p) as never };
    const lookups: string[] = [];
    // Unmounted: /data/vol/sub is gone with the volume, /data/vol is the empty mount point on the device below.
    const dev = (p: string) => { lookups.push(p); return p === '/data/vol' ? '64' : p === '/data' ? '64' : null; };
    const changes = findVolumeChanges([seen('/data/vol/sub/a', null), seen('/data/vol/sub/b', null), seen('/data/vol/sub', null)], t, dev);
    expect(changes).toEqual([{ path: '/data/vol', was: '70', now: '64', wasKey: '70:2:0' }]);
    expect(lookups).toEqual(['/data/vol/sub', '/data/vol']); // once per directory and batch
  });

  it('a directory gone that was on another device than what is above it was the top of a volume: held, not deleted', () => {
    // /data/vol (device 70) removed along with its mount point after an unmount; /data is on 64.
    expect(findVolumeChanges([seen('/data/vol', null)], tree, (p) => (p === '/data' ? '64' : null)))
      .toEqual([{ path: '/data/vol', was: '70', now: '64', wasKey: '70:2:0' }]);
    // Above the protected set too: a root that was a mount point, its parent outside the model.
    const rootModel = new Map<string, Observed>([['/media/disk', node('90:2:0')]]);
    const t = { get: (p: string) => rootModel.get(p) as never };
    expect(findVolumeChanges([seen('/media/disk', null)], t, (p) => (p === '/media' ? '64' : null)))
      .toEqual([{ path: '/media/disk', was: '90', now: '64', wasKey: '90:2:0' }]);
    // A directory removed on the device it shares with its parent is a deletion.
    expect(findVolumeChanges([seen('/data/f', null), seen('/data/x', null)], { get: (p: string) => (p === '/data/x' ? node('64:12:0') : model.get(p)) as never }, (p) => (p === '/data' ? '64' : null))).toEqual([]);
  });
});
