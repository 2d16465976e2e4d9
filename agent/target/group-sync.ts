// Group commit for the mirror's whole files: instead of one fdatasync per file (a synchronous inode-table write
// and a device flush each, which on a virtual disk costs more than the data), the files that finish writing at
// about the same time are made durable together by one syncfs(2) of their file system.
//
// Node has no syncfs binding, so a long-lived helper process makes the call, one request line at a time. Where
// perl is installed and the system call's number is known for this architecture, perl makes the call itself;
// otherwise a shell runs coreutils `sync --file-system` per request (a fork and exec each: about 4 ms of CPU on
// the benchmark machine, some 800 times in a 20,000-file mirror). Where neither works, the caller falls back to
// its own fdatasync: durability is never weakened, only batched.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** syncfs(2)'s number where it is certain: x86-64's table, and the generic table arm64 uses. */
const SYSCALL_SYNCFS: Partial<Record<string, number>> = { x64: 306, arm64: 267 };

/**
 * Opens the directory (any descriptor on the file system will do) and makes the system call on it. The open is
 * O_RDONLY|O_NONBLOCK (2048 on both architectures), as coreutils `sync` opens: a FIFO put where the directory was
 * would otherwise hold the helper, and every mirror's durability behind it, until something wrote to it.
 */
const perlHelper = (syscallNr: number) =>
  `$| = 1; while (my $d = <STDIN>) { chomp $d; my $ok = 0; if (sysopen(my $h, $d, 2048)) { $ok = syscall(${syscallNr}, fileno($h)) == 0; close($h); } print $ok ? "ok\n" : "fail\n"; }`;

const SHELL_HELPER = 'while IFS= read -r d; do if sync --file-system -- "$d" 2>/dev/null; then echo ok; else echo fail; fi; done';

function onPath(program: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    try {
      fs.accessSync(path.join(dir, program), fs.constants.X_OK);
      return true;
    } catch { /* not here */ }
  }
  return false;
}

/** The helper's command line: perl making the call where it can, else the shell running `sync --file-system`. */
export function syncfsHelperCommand(arch: string = process.arch, hasPerl: boolean = onPath('perl')): { kind: 'perl' | 'shell'; argv: string[] } {
  const nr = SYSCALL_SYNCFS[arch];
  if (nr !== undefined && hasPerl) return { kind: 'perl', argv: ['perl', '-e', perlHelper(nr)] };
  return { kind: 'shell', argv: ['/bin/sh', '-c', SHELL_HELPER] };
}

/** Runs syncfs requests one at a time in a persistent helper process (see syncfsHelperCommand). */
export class SyncfsHelper {
  private child: ChildProcess | null = null;
  private broken = false;
  private waiters: Array<(ok: boolean) => void> = [];
  private buffered = '';

  constructor(private readonly argv: readonly string[] = syncfsHelperCommand().argv) {}

  private start(): ChildProcess | null {
    if (this.child) return this.child;
    if (this.broken) return null;
    let child: ChildProcess;
    try {
      child = spawn(this.argv[0]!, this.argv.slice(1), { stdio: ['pipe', 'pipe', 'ignore'] });
    } catch {
      this.broken = true;
      return null;
    }
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      this.buffered += d;
      let nl: number;
      while ((nl = this.buffered.indexOf('\n')) >= 0) {
        const line = this.buffered.slice(0, nl);
        this.buffered = this.buffered.slice(nl + 1);
        this.waiters.shift()?.(line === 'ok');
      }
    });
    const fail = () => {
      this.broken = true;
      this.child = null;
      for (const w of this.waiters.splice(0)) w(false);
    };
    child.on('error', fail);
    child.on('exit', fail);
    child.stdin!.on('error', fail);
    child.unref();
    (child.stdin as unknown as { unref?: () => void }).unref?.();
    (child.stdout as unknown as { unref?: () => void }).unref?.();
    this.child = child;
    return child;
  }

  /** Resolves true once the file system holding `dir` has been synced, false when that could not be done. */
  syncfs(dir: string): Promise<boolean> {
    if (dir.includes('\n')) return Promise.resolve(false);
    const child = this.start();
    if (!child) return Promise.resolve(false);
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      child.stdin!.write(`${dir}\n`);
    });
  }

  close(): void {
    this.child?.stdin?.end();
    this.child = null;
  }
}

/**
 * Collects "make my writes durable" requests and answers each with the first syncfs that started after it was
 * made (a sync already running may have started before the caller's writes), one sync per file system at a time.
 */
export class GroupSync {
  private running = new Map<string, Promise<void>>();
  private next = new Map<string, Promise<boolean>>();

  constructor(private helper: Pick<SyncfsHelper, 'syncfs'>) {}

  /** `fsKey` names the file system (its device), `dir` a directory on it. False: not synced, use fdatasync. */
  request(fsKey: string, dir: string): Promise<boolean> {
    const queued = this.next.get(fsKey);
    if (queued) return queued;
    const before = this.running.get(fsKey) ?? Promise.resolve();
    const round = before.then(() => {
      this.next.delete(fsKey);
      return this.helper.syncfs(dir);
    }).catch(() => false); // a sync that failed in any way: each caller syncs its own file
    this.next.set(fsKey, round);
    const done = round.then(() => {}, () => {});
    this.running.set(fsKey, done);
    void done.then(() => { if (this.running.get(fsKey) === done) this.running.delete(fsKey); });
    return round;
  }
}

let shared: GroupSync | null = null;

/**
 * The agent's one group sync for mirror batches (one helper shell per agent process). Continuous replication keeps
 * one fdatasync per file: a syncfs also flushes whatever else is dirty on that file system, and in the lag
 * benchmark it made the p99 no better (244 and 361 ms against 220 and 285 ms on a slow day).
 */
export function mirrorGroupSync(): GroupSync {
  shared ??= new GroupSync(new SyncfsHelper());
  return shared;
}
