// Test support: real executables written into a temp directory that is put first in (or alone on) PATH, so the
// code under test runs real processes while never touching the host's systemd or network interfaces.
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createCommandRunner, type RunCommand } from '../command';

export interface FakeBin {
  dir: string;
  /** Every call of every fake, one line each: "<name> <args joined by space>". */
  log: string;
  /** Writes an executable `name` whose body (POSIX sh) runs after the call is logged. */
  add(name: string, body?: string): Promise<void>;
  calls(): Promise<string[]>;
  /** A runner whose PATH is only the fake directory (plus `extraPath`, e.g. "/usr/bin:/bin" for real cp). */
  runner(extraPath?: string): RunCommand;
  cleanup(): Promise<void>;
}

export async function createFakeBin(): Promise<FakeBin> {
  const dir = await mkdtemp(path.join(tmpdir(), 'tandem-fakebin-'));
  const log = path.join(dir, 'calls.log');
  return {
    dir,
    log,
    async add(name, body = 'exit 0') {
      const file = path.join(dir, name);
      // printf is a shell builtin, so the fake works with nothing else on PATH.
      await writeFile(file, `#!/bin/sh\nprintf '%s\\n' "${name} $*" >> '${log}'\n${body}\n`);
      await chmod(file, 0o755);
    },
    async calls() {
      try {
        return (await readFile(log, 'utf8')).split('\n').filter(Boolean);
      } catch {
        return [];
      }
    },
    runner(extraPath) {
      return createCommandRunner({ env: { PATH: extraPath ? `${dir}:${extraPath}` : dir }, killGraceMs: 200 });
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
