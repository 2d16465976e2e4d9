// Where the capture's tree model lives between runs: an SQLite database in the job's capture dir (tree.db, with its
// WAL). The model is the database (see tree-index.ts), so persisting is a commit. The index counts as found only
// once a baseline has been completely recorded in it: a baseline cut short by a crash is taken again, not trusted.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { importLegacyIndex, removeLegacyIndex } from './legacy-index';
import { TreeIndex } from './tree-index';

const DB_FILE = 'tree.db';
const COMPLETE = 'baseline-complete';

export interface LoadedIndex {
  tree: TreeIndex;
  /** False when there was no usable index (first start, a baseline cut short, fresh, or it was unreadable). */
  found: boolean;
  /** Set when an index existed but could not be read: changes made while the agent was down may be missed. */
  unreadable?: string;
}

export class IndexStore {
  constructor(private readonly dir: string) {}

  private get dbPath(): string {
    return join(this.dir, DB_FILE);
  }

  /** Opens the index; `fresh` forgets whatever was there (the next baseline is taken from the disk). */
  async load(options: { fresh?: boolean } = {}): Promise<LoadedIndex> {
    await mkdir(this.dir, { recursive: true });
    if (options.fresh) await this.clear();
    let unreadable: string | undefined;
    try {
      const tree = new TreeIndex(this.dbPath);
      if (tree.getMeta(COMPLETE) === '1') return { tree, found: true };
      tree.close();
    } catch (err) {
      unreadable = (err as Error).message;
    }
    await this.removeDb();
    const tree = new TreeIndex(this.dbPath);
    if (!unreadable && await importLegacyIndex(this.dir, tree)) {
      this.markComplete(tree);
      await removeLegacyIndex(this.dir);
      return { tree, found: true };
    }
    return unreadable ? { tree, found: false, unreadable } : { tree, found: false };
  }

  /** Records that the tree holds a whole baseline (from here on a restart compares with it). */
  markComplete(tree: TreeIndex): void {
    tree.setMeta(COMPLETE, '1');
    tree.commit();
  }

  /** Makes the model's changes so far durable in the index (at the next checkpoint; a lost commit is only stale). */
  persist(tree: TreeIndex): void {
    tree.commit();
  }

  /** Forgets everything (the next start builds a fresh baseline). */
  async clear(): Promise<void> {
    await this.removeDb();
    await removeLegacyIndex(this.dir);
  }

  private async removeDb(): Promise<void> {
    for (const suffix of ['', '-wal', '-shm']) await rm(this.dbPath + suffix, { force: true });
  }
}
