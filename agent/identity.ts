// Facts about this host that the agent reports at enrolment: names, machine id, OS, addresses, file systems.
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { createHash } from 'node:crypto';
import type { FilesystemUsage } from '../shared/protocol/control';

export async function readMachineId(): Promise<string> {
  for (const f of ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
    try {
      const id = (await readFile(f, 'utf8')).trim();
      if (id) return id;
    } catch {
      /* try the next location */
    }
  }
  // No machine id (minimal containers): derive a stable one from the hostname so re-enrolment still matches.
  return createHash('sha256').update(os.hostname()).digest('hex').slice(0, 32);
}

export function hostAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (!a.internal) out.push(a.address);
  }
  return out;
}

/** File-system type of each path, from /proc/self/mounts (longest mount point that contains the path). */
export async function filesystemTypes(paths: string[]): Promise<Record<string, string>> {
  let mounts: Array<{ point: string; type: string }> = [];
  try {
    mounts = (await readFile('/proc/self/mounts', 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' '))
      .map((p) => ({ point: p[1]!.replace(/\\040/g, ' '), type: p[2]! }));
  } catch {
    /* not Linux: leave unknown */
  }
  const out: Record<string, string> = {};
  for (const p of paths) {
    const m = mounts
      .filter((m) => p === m.point || p.startsWith(m.point.endsWith('/') ? m.point : m.point + '/'))
      .sort((a, b) => b.point.length - a.point.length)[0];
    out[p] = m?.type ?? 'unknown';
  }
  return out;
}

export function osDescription(): string {
  return `${os.type()} ${os.release()} ${os.arch()}`;
}

const VIRTUAL_FS = new Set(['proc', 'sysfs', 'cgroup', 'cgroup2', 'devpts', 'mqueue', 'securityfs', 'debugfs', 'tracefs', 'pstore',
  'bpf', 'configfs', 'fusectl', 'hugetlbfs', 'autofs', 'binfmt_misc', 'nsfs', 'rpc_pipefs', 'devtmpfs', 'efivarfs', 'selinuxfs']);


/** Free and total space of the host's real file systems, reported to the hub for job validation. */
export async function filesystemUsage(): Promise<FilesystemUsage[]> {
  const { statfs } = await import('node:fs/promises');
  let lines: string[] = [];
  try {
    lines = (await readFile('/proc/self/mounts', 'utf8')).split('\n').filter(Boolean);
  } catch {
    return [];
  }
  const out: FilesystemUsage[] = [];
  for (const l of lines.slice(0, 200)) {
    const [, point, type] = l.split(' ');
    if (!point || !type || VIRTUAL_FS.has(type)) continue;
    const mount = point.replace(/\\040/g, ' ');
    try {
      const s = await statfs(mount);
      out.push({ mount, type, freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize });
    } catch {
      /* unreadable mount: skip */
    }
  }
  return out;
}
