// In-memory model of the protected tree as last sent to the target: path → inode, inode → stat and
// block hashes. The planner updates it while planning; the index store persists it between runs.
import { posix } from 'node:path';
import { decodeHashes, encodeHashes, isPackable, type FileHashes } from './hash-codec';
import type { Observed } from './types';

export { fileHashes, type FileHashes } from './hash-codec';

/** One inode; a hard-linked file has several paths, a directory exactly one. */
export interface TreeNode extends Observed {
  /** Its names: one, or a few for a hard-linked file. */
  readonly paths: readonly string[];
  hashes?: FileHashes;
  /** Whether it has block hashes, without unpacking them (see Node). */
  readonly hasHashes: boolean;
}

export interface TreeChanges {
  /** Paths added, updated or removed since the last takeChanges(). */
  paths: string[];
  /** Inodes whose stat or hashes changed, or that were removed. */
  keys: string[];
}

const parentOf = (path: string): string => posix.dirname(path);
const isUnder = (path: string, dir: string): boolean => dir === '/' ? path !== '/' : path.startsWith(dir + '/');

function copyStat(into: Observed, from: Observed): void {
  into.kind = from.kind;
  into.size = from.size;
  into.mtimeMs = from.mtimeMs;
  into.ctimeMs = from.ctimeMs;
  into.mode = from.mode;
  into.uid = from.uid;
  into.gid = from.gid;
  into.nlink = from.nlink;
  into.target = from.target;
}

/**
 * A node of the model. One class with every field set in the constructor, and fields cleared by assigning
 * undefined (never `delete`), so all nodes share one V8 hidden class: nodes built by spreading an observation and
 * later given or stripped of hashes each ended up with their own (about 400 bytes a file, a third of the index).
 *
 * Sized for a million of them (a heap snapshot of 200,000 showed 725 bytes a file): the usual single name is kept
 * as a string, not a one-element array (60 bytes), and a small block index as one packed string rather than an
 * object, a Buffer and a boxed number (170 bytes; now about 60). Both are rebuilt when asked for.
 */
// The stat fields are Observed's (declared there once, merged in here); the constructor sets every one of them.
interface Node extends Observed {}
class Node implements TreeNode {
  private names: string | string[] | undefined = undefined;
  private index: FileHashes | string | undefined = undefined;

  constructor(obs: Observed) {
    this.key = obs.key;
    this.kind = obs.kind;
    this.size = obs.size;
    this.mtimeMs = obs.mtimeMs;
    this.ctimeMs = obs.ctimeMs;
    this.mode = obs.mode;
    this.uid = obs.uid;
    this.gid = obs.gid;
    this.nlink = obs.nlink;
    this.target = obs.target;
  }

  get paths(): readonly string[] {
    const n = this.names;
    return n === undefined ? [] : typeof n === 'string' ? [n] : n;
  }

  get hashes(): FileHashes | undefined {
    const h = this.index;
    return typeof h === 'string' ? decodeHashes(Buffer.from(h, 'latin1')) : h;
  }

  set hashes(h: FileHashes | undefined) {
    // latin1: one char per byte, so the string holds the encoded bytes exactly.
    this.index = h && isPackable(h) ? encodeHashes(h).toString('latin1') : h;
  }

  get hasHashes(): boolean {
    return this.index !== undefined;
  }

  addName(path: string): void {
    const n = this.names;
    if (n === undefined) this.names = path;
    else if (typeof n === 'string') { if (n !== path) this.names = [n, path]; }
    else if (!n.includes(path)) n.push(path);
  }

  removeName(path: string): void {
    const n = this.names;
    if (n === path) this.names = undefined;
    else if (Array.isArray(n)) {
      const at = n.indexOf(path);
      if (at >= 0) n.splice(at, 1);
      if (n.length === 1) this.names = n[0];
    }
  }
}


export class TreeIndex {
  private readonly keyByPath = new Map<string, string>();
  private readonly nodes = new Map<string, TreeNode>();
  private readonly kids = new Map<string, Set<string>>();
  private changedPaths = new Set<string>();
  private changedKeys = new Set<string>();

  /** Number of paths. */
  get size(): number {
    return this.keyByPath.size;
  }

  get(path: string): TreeNode | undefined {
    const key = this.keyByPath.get(path);
    return key === undefined ? undefined : this.nodes.get(key);
  }

  has(path: string): boolean {
    return this.keyByPath.has(path);
  }

  node(key: string): TreeNode | undefined {
    return this.nodes.get(key);
  }

  pathsOf(key: string): string[] {
    const n = this.nodes.get(key);
    return n ? [...n.paths] : [];
  }

  /** Where the model has the directory with this identity, if it has it. */
  dirPathOf(key: string): string | undefined {
    const n = this.nodes.get(key);
    if (!n || n.kind !== 'dir') return undefined;
    for (const p of n.paths) return p;
    return undefined;
  }

  /** Paths of the direct children the model knows under a directory. */
  childPaths(dir: string): string[] {
    const s = this.kids.get(dir);
    return s ? [...s] : [];
  }

  *entries(): IterableIterator<[string, TreeNode]> {
    for (const [path, key] of this.keyByPath) yield [path, this.nodes.get(key)!];
  }

  /** Adds a name. If the inode is already known (hard link) the name joins it and its stat is refreshed. */
  add(path: string, obs: Observed): TreeNode {
    if (this.keyByPath.has(path)) throw new Error(`tree index: ${path} is already occupied`);
    let node = this.nodes.get(obs.key);
    if (node) copyStat(node, obs);
    else {
      node = new Node(obs);
      this.nodes.set(obs.key, node);
    }
    this.attach(path, obs.key);
    this.changedKeys.add(obs.key);
    return node;
  }

  /** Refreshes the stat of the inode `obs.key` (all its names). */
  setStat(obs: Observed): void {
    const node = this.nodes.get(obs.key);
    if (!node) throw new Error(`tree index: unknown inode ${obs.key}`);
    copyStat(node, obs);
    this.changedKeys.add(obs.key);
    for (const p of node.paths) this.changedPaths.add(p);
  }

  setHashes(key: string, hashes: FileHashes | undefined): void {
    const node = this.nodes.get(key);
    if (!node) return;
    node.hashes = hashes;
    this.changedKeys.add(key);
  }

  /** Removes a path and everything the model has below it. */
  removeSubtree(path: string): void {
    for (const p of this.subtree(path).reverse()) {
      const key = this.detach(p);
      const node = this.nodes.get(key);
      if (node && node.paths.length === 0) this.nodes.delete(key);
      this.changedKeys.add(key);
    }
  }

  /** Removes one name only; entries below it stay (used when replaying a journal of per-path states). */
  removeName(path: string): void {
    if (!this.keyByPath.has(path)) return;
    const key = this.detach(path);
    const node = this.nodes.get(key);
    if (node && node.paths.length === 0) this.nodes.delete(key);
    this.changedKeys.add(key);
  }

  /** Renames a path and its subtree. The destination must be free. */
  move(from: string, to: string): void {
    if (from === to) return;
    if (this.keyByPath.has(to)) throw new Error(`tree index: cannot move ${from} onto occupied ${to}`);
    if (isUnder(to, from)) throw new Error(`tree index: cannot move ${from} into itself (${to})`);
    const moved = this.subtree(from).map((p) => [p, this.keyByPath.get(p)!] as const);
    for (const [p] of [...moved].reverse()) this.detach(p);
    for (const [p, key] of moved) this.attach(to + p.slice(from.length), key);
  }

  /** What changed since the previous call (for incremental persistence and watch bookkeeping). */
  takeChanges(): TreeChanges {
    const out = { paths: [...this.changedPaths], keys: [...this.changedKeys] };
    this.changedPaths = new Set();
    this.changedKeys = new Set();
    return out;
  }

  /** Preorder list of `path` and its descendants in the model (empty if the model lacks `path`). */
  subtreePaths(path: string): string[] {
    return this.subtree(path);
  }

  private subtree(path: string): string[] {
    if (!this.keyByPath.has(path)) return [];
    const out: string[] = [];
    const stack = [path];
    while (stack.length > 0) {
      const p = stack.pop()!;
      out.push(p);
      const s = this.kids.get(p);
      if (s) for (const c of s) stack.push(c);
    }
    return out;
  }

  private attach(path: string, key: string): void {
    this.keyByPath.set(path, key);
    (this.nodes.get(key) as Node).addName(path);
    const parent = parentOf(path);
    let s = this.kids.get(parent);
    if (!s) this.kids.set(parent, (s = new Set()));
    s.add(path);
    this.changedPaths.add(path);
  }

  private detach(path: string): string {
    const key = this.keyByPath.get(path)!;
    this.keyByPath.delete(path);
    (this.nodes.get(key) as Node | undefined)?.removeName(path);
    const parent = parentOf(path);
    const s = this.kids.get(parent);
    if (s) {
      s.delete(path);
      if (s.size === 0) this.kids.delete(parent);
    }
    this.changedPaths.add(path);
    return key;
  }
}
