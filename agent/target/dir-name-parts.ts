// A directory's listing may reach the target in several manifest requests: the names of a directory of millions of
// files do not fit one request. Parts marked `more` are held here until the directory's final part, which the orphan
// search then takes together with them. Held per mirror: a new mirror (or verify) drops what an earlier one left.
import { TandemError } from '../../shared/errors';

export class DirNameParts {
  private mirrorId: string | null = null;
  private parts = new Map<string, string[][]>();
  private held = 0;

  /** `maxNames`: the most names held at once for this job (a source cannot make the target hold without bound). */
  constructor(private readonly maxNames = 20_000_000) {}

  private switchTo(mirrorId: string): void {
    if (this.mirrorId === mirrorId) return;
    this.mirrorId = mirrorId;
    this.parts.clear();
    this.held = 0;
  }

  /** Holds one part of the listing of `path`; more follow. */
  hold(mirrorId: string, path: string, names: string[]): void {
    this.switchTo(mirrorId);
    if (this.held + names.length > this.maxNames) {
      throw new TandemError('payload_too_large', `The source sent more than ${this.maxNames} names of directories still to be completed; the target does not hold more.`, 413);
    }
    const list = this.parts.get(path) ?? [];
    list.push(names);
    this.parts.set(path, list);
    this.held += names.length;
  }

  /**
   * The whole listing of `path`: the parts held for it and this final one. A part left by an attempt of the same
   * mirror that stopped halfway only adds names, which can keep an orphan for a later pass, never remove a file.
   */
  complete(mirrorId: string, path: string, names: string[]): string[] {
    this.switchTo(mirrorId);
    const list = this.parts.get(path);
    if (!list) return names;
    this.parts.delete(path);
    for (const p of list) this.held -= p.length;
    return list.flat().concat(names);
  }
}
