// A protected path that is itself a symbolic link (/var/www -> /srv/www): the walk and the change capture never follow
// links, so only the link is replicated, not what it points to. Not wrong, but rarely what was meant: the job says so.
import fs from 'node:fs';

export interface RootLink {
  root: string;
  target: string;
}

/** The protected roots (see protectedRoots) that are symbolic links now, with what each points to. */
export function rootsThatAreLinks(roots: readonly string[]): RootLink[] {
  const out: RootLink[] = [];
  for (const root of roots) {
    try {
      if (fs.lstatSync(root, { throwIfNoEntry: false })?.isSymbolicLink()) out.push({ root, target: fs.readlinkSync(root) });
    } catch { /* not there, or not readable: the capture reports what it cannot read */ }
  }
  return out;
}

export const rootLinkMessage = (l: RootLink): string =>
  `The protected path ${l.root} is a symbolic link (to ${l.target}): links are replicated as links, so the target gets the link and none of what it points to. To protect the data, protect ${l.target} (the link's target) instead of, or as well as, ${l.root}.`;
