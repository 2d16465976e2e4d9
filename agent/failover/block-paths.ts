// "Block target paths" (manual 2.8): while a job protects, its replica roots on the target are read-only to users;
// failover unblocks them. Done with permission bits on each root, recorded in a state file so it is reversible
// and survives agent restarts.
//
// Limits, by design:
// - root (and any process with CAP_DAC_OVERRIDE) can still write; so can the agent, which is the point.
// - Default: only the root directory itself loses write permission, so nobody but the agent can create, delete
//   or rename entries directly in it. Files and subdirectories deeper down keep the permissions replicated from
//   the source: a user with write permission on /replica/docs/a.txt can still change it. `denyTraversal: true`
//   also removes read and search permission on the root, which closes the whole tree (reads included) to
//   everyone but the agent and root, because opening a path needs search permission on every ancestor.
// - A replicated change of the root's own mode (applyMeta on the root) lifts the block; call blockPaths again
//   after it (it is idempotent and records the new mode as the one to restore).
// - Not chattr +i: the agent itself must keep writing into the replica.
import { chmod, lstat, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { readJsonFile, withFileLock, writeJsonFileAtomic } from './state-file';
import { errorText, guardStep, type StepResult } from './step-result';

export interface BlockOptions {
  /** Where the original modes are kept, e.g. <dataDir>/jobs/<jobId>/blocked-paths.json. */
  stateFile: string;
  /** Also remove read and search permission, closing the whole tree (see the file comment). Default false. */
  denyTraversal?: boolean;
  /** The agent's uid (tests); default process.getuid(). */
  uid?: number;
}

export interface BlockRecord {
  /** Permission bits (07777) the root had before it was blocked; restored by unblock. */
  originalMode: number;
  /** The bits blockPaths set; unblock restores only if the root still has them. */
  blockedMode: number;
  blockedAt: string;
}

export interface BlockState {
  version: 1;
  roots: Record<string, BlockRecord>;
}

/**
 * Permission bits for a blocked root: write removed for group and other, and for the owner too when the owner is
 * not the agent (possible when the agent runs as root and ownership is replicated from the source).
 */
export function blockedMode(mode: number, ownerIsAgent: boolean, denyTraversal = false): number {
  const bits = mode & 0o7777;
  const userMask = denyTraversal ? 0o077 : 0o022;
  const ownerMask = ownerIsAgent ? 0 : denyTraversal ? 0o700 : 0o200;
  return bits & ~(userMask | ownerMask);
}

export type BlockPlan =
  | { action: 'keep'; record: BlockRecord }
  | { action: 'block'; record: BlockRecord };

/** What blocking a root with `currentMode` means given what the state file says (pure). */
export function planBlock(currentMode: number, recorded: BlockRecord | undefined, wanted: number, nowIso: string): BlockPlan {
  const current = currentMode & 0o7777;
  if (recorded && recorded.blockedMode === current && wanted === current) return { action: 'keep', record: recorded };
  // Not blocked, or its mode changed since (e.g. replicated from the source): the current mode is the one to restore.
  const originalMode = recorded && recorded.blockedMode === current ? recorded.originalMode : current;
  return { action: 'block', record: { originalMode, blockedMode: wanted, blockedAt: nowIso } };
}

export type UnblockPlan = { action: 'restore'; mode: number } | { action: 'forget' } | { action: 'none' };

/** Restore the recorded mode only if nobody changed the root since it was blocked (pure). */
export function planUnblock(currentMode: number, recorded: BlockRecord | undefined): UnblockPlan {
  if (!recorded) return { action: 'none' };
  return (currentMode & 0o7777) === recorded.blockedMode ? { action: 'restore', mode: recorded.originalMode } : { action: 'forget' };
}

export async function readBlockState(stateFile: string): Promise<BlockState> {
  const raw = (await readJsonFile(stateFile)) as BlockState | undefined;
  if (raw === undefined) return { version: 1, roots: {} };
  if (raw.version !== 1 || typeof raw.roots !== 'object' || raw.roots === null) {
    throw new Error(`${stateFile} is not a Tandem blocked-paths file`);
  }
  return raw;
}

const octal = (mode: number) => '0' + (mode & 0o7777).toString(8).padStart(3, '0');

function fsProblem(root: string, err: unknown, doing: string): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return `replica root ${root} does not exist, so it was not ${doing}; ${doing === 'blocked' ? 'block target paths again after the mirror creates it' : 'nothing to do'}`;
  if (code === 'EPERM' || code === 'EACCES') {
    return `the agent may not change the permissions of ${root} (${code}); run the agent as root or as the owner of the replica root`;
  }
  return `${root} could not be ${doing} (${errorText(err)})`;
}

const sentence = (parts: string[]) => parts.map((s) => s.charAt(0).toUpperCase() + s.slice(1) + '.').join(' ');

/** Makes each replica root read-only for everyone but the agent; idempotent. */
export function blockPaths(roots: readonly string[], opts: BlockOptions): Promise<StepResult> {
  return guardStep('paths.block', (timer) =>
    withFileLock(path.resolve(opts.stateFile), async () => {
      if (roots.length === 0) return timer.skip('No replica roots to block.');
      let state: BlockState;
      try {
        state = await readBlockState(opts.stateFile);
      } catch (err) {
        return timer.fail(`The blocked-paths state file is unreadable (${errorText(err)}); delete ${opts.stateFile} and block target paths again.`);
      }
      const uid = opts.uid ?? process.getuid?.() ?? -1;
      const notes: string[] = [];
      const failures: string[] = [];
      for (const given of roots) {
        const root = path.resolve(given);
        try {
          // lstat: a root that is a symlink (the source's path became one) is never followed, so nothing outside
          // the replica has its permissions changed.
          const info = await lstat(root);
          if (info.isSymbolicLink()) { failures.push(`${root} is a symlink, so it was not blocked (nothing it points to was changed)`); continue; }
          if (!info.isDirectory()) { failures.push(`${root} is not a directory, so it was not blocked`); continue; }
          const wanted = blockedMode(info.mode, info.uid === uid, opts.denyTraversal);
          const plan = planBlock(info.mode, state.roots[root], wanted, new Date().toISOString());
          if (plan.action === 'keep') { notes.push(`${root} was already blocked (${octal(wanted)})`); continue; }
          // Record first: if we crash between the two, unblock still knows the mode to restore.
          state.roots[root] = plan.record;
          await persist(opts.stateFile, state);
          await chmod(root, wanted);
          notes.push(`blocked ${root} (${octal(plan.record.originalMode)} → ${octal(wanted)})`);
        } catch (err) {
          failures.push(fsProblem(root, err, 'blocked'));
        }
      }
      const detail = sentence([...failures, ...notes]);
      return failures.length ? timer.fail(detail) : timer.ok(detail);
    }),
  );
}

/** Gives each root back the mode it had before blockPaths; a root that was never blocked is left alone. */
export function unblockPaths(roots: readonly string[], opts: Pick<BlockOptions, 'stateFile'>): Promise<StepResult> {
  return guardStep('paths.unblock', (timer) =>
    withFileLock(path.resolve(opts.stateFile), async () => {
      if (roots.length === 0) return timer.skip('No replica roots to unblock.');
      let state: BlockState;
      try {
        state = await readBlockState(opts.stateFile);
      } catch (err) {
        return timer.fail(
          `The blocked-paths state file is unreadable (${errorText(err)}); set the replica roots' permissions by hand, then delete ${opts.stateFile}.`,
        );
      }
      const notes: string[] = [];
      const failures: string[] = [];
      const recordedBefore = Object.keys(state.roots).length;
      for (const given of roots) {
        const root = path.resolve(given);
        const recorded = state.roots[root];
        try {
          if (!recorded) { notes.push(`${root} was not blocked`); continue; }
          let current: number;
          try {
            const info = await lstat(root);
            if (info.isSymbolicLink()) {
              delete state.roots[root];
              notes.push(`${root} is a symlink now; nothing was changed through it and its block is forgotten`);
              continue;
            }
            current = info.mode;
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
            delete state.roots[root];
            notes.push(`${root} no longer exists; forgot its block`);
            continue;
          }
          const plan = planUnblock(current, recorded);
          if (plan.action === 'restore') {
            await chmod(root, plan.mode);
            notes.push(`unblocked ${root} (${octal(recorded.blockedMode)} → ${octal(plan.mode)})`);
          } else {
            notes.push(`${root} had been changed to ${octal(current)} since it was blocked; left as it is`);
          }
          delete state.roots[root];
        } catch (err) {
          failures.push(fsProblem(root, err, 'unblocked'));
        }
      }
      if (Object.keys(state.roots).length !== recordedBefore) await persist(opts.stateFile, state);
      const detail = sentence([...failures, ...notes]);
      return failures.length ? timer.fail(detail) : timer.ok(detail);
    }),
  );
}

async function persist(stateFile: string, state: BlockState): Promise<void> {
  await mkdir(path.dirname(stateFile), { recursive: true, mode: 0o700 });
  await writeJsonFileAtomic(stateFile, state);
}
