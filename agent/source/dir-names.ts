// Directory listings as names Tandem can replicate. A Linux name is bytes; Tandem's paths are UTF-8 text (in the
// protocol, the rules, the capture's index). A name that is not valid UTF-8 reads back as U+FFFD replacement
// characters, which name nothing on disk: such names are set apart, escaped for display, so that they are reported
// instead of silently missing from the replica.
import { readdirSync } from 'node:fs';

export interface NameListing {
  /** The names that are valid UTF-8 (a name with a real U+FFFD in it included). */
  names: string[];
  /** The others, with each byte outside printable ASCII written \xHH (a backslash as \x5c). */
  notUtf8: string[];
}

/** Splits `names`, as `readdir(dir)` returned them, into names that are UTF-8 and names that are not. */
export function splitUtf8Names(dir: string, names: string[]): NameListing {
  // Only a listing with a replacement character can hold a name that is not UTF-8: the common case costs one scan.
  if (!names.some((n) => n.includes('\uFFFD'))) return { names, notUtf8: [] };
  const valid: string[] = [];
  const notUtf8: string[] = [];
  for (const raw of readdirSync(dir, { encoding: 'buffer' })) {
    const text = raw.toString('utf8');
    if (Buffer.from(text, 'utf8').equals(raw)) valid.push(text);
    else notUtf8.push(escapeNameBytes(raw));
  }
  return { names: valid, notUtf8 };
}

export function escapeNameBytes(raw: Buffer): string {
  let out = '';
  for (const byte of raw) out += byte >= 0x20 && byte < 0x7f && byte !== 0x5c ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`;
  return out;
}
