// The 24-character, self-checking code format shared by licence codes, activation request codes and activation keys.
// 105 payload bits + a 15-bit CRC, written in Crockford base32 (no I, L, O, U): any single mistyped character and any
// swap of two neighbours is caught by the CRC before a lookup, and I/L/O read as 1/1/0 so common misreadings still work.
import { TandemError } from '../errors';

export const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export const CODE_LENGTH = 24;
export const PAYLOAD_BITS = 105;
const CRC_BITS = 15;
const CRC_POLY = 0x4599; // CRC-15/CAN: detects every burst error up to 15 bits, i.e. up to three adjacent characters.

/** What a code is for; stored in its first 3 bits so a key pasted where a licence code belongs is named as such. */
export const CodeKind = { licence: 1, request: 2, key: 3 } as const;
export type CodeKind = keyof typeof CodeKind;
const KIND_LABEL: Record<CodeKind, string> = {
  licence: 'a licence code', request: 'an activation request code', key: 'an activation key',
};
const kindName = (n: number): CodeKind | undefined =>
  (Object.keys(CodeKind) as CodeKind[]).find((k) => CodeKind[k] === n);

/** A fixed bit layout: fields in order, most significant first, summing to PAYLOAD_BITS (kind included). */
export type Layout = ReadonlyArray<readonly [name: string, bits: number]>;

function crc15(value: bigint, bits: number): number {
  let crc = 0;
  for (let i = bits - 1; i >= 0; i--) {
    const bit = Number((value >> BigInt(i)) & 1n);
    const top = (crc >> (CRC_BITS - 1)) & 1;
    crc = (crc << 1) & 0x7fff;
    if (top ^ bit) crc ^= CRC_POLY;
  }
  return crc;
}

/** Upper-cases, drops dashes and spaces, and reads the Crockford look-alikes I, L → 1 and O → 0. */
export function normalizeCode(input: string): string {
  return input.toUpperCase().replace(/[\s-]/g, '').replace(/[IL]/g, '1').replace(/O/g, '0');
}

/** Groups of four for display: ABCD-EFGH-… */
export function formatCode(code: string): string {
  return normalizeCode(code).match(/.{1,4}/g)!.join('-');
}

export function packCode(kind: CodeKind, layout: Layout, fields: Record<string, bigint | number>): string {
  const total = layout.reduce((s, [, b]) => s + b, 0);
  if (total !== PAYLOAD_BITS - 3) throw new Error(`layout has ${total} bits, expected ${PAYLOAD_BITS - 3}`);
  let v = BigInt(CodeKind[kind]);
  for (const [name, bits] of layout) {
    const f = BigInt(fields[name] ?? 0);
    if (f < 0n || f >= 1n << BigInt(bits)) throw new Error(`field ${name}=${f} does not fit in ${bits} bits`);
    v = (v << BigInt(bits)) | f;
  }
  const all = (v << BigInt(CRC_BITS)) | BigInt(crc15(v, PAYLOAD_BITS));
  let out = '';
  for (let i = CODE_LENGTH - 1; i >= 0; i--) out += ALPHABET[Number((all >> BigInt(i * 5)) & 31n)];
  return out;
}

/**
 * Reads a code typed by a person. Throws `code_malformed` (wrong length or characters), `code_typo` (checksum
 * mismatch: a character is wrong) or `code_wrong_kind` (e.g. an activation key where a licence code was asked for).
 */
export function unpackCode(input: string, kind: CodeKind, layout: Layout): Record<string, bigint> {
  const what = KIND_LABEL[kind].replace(/^an? /, '');
  const s = normalizeCode(input);
  if (s.length !== CODE_LENGTH || ![...s].every((ch) => ALPHABET.includes(ch))) {
    throw new TandemError('code_malformed', `The ${what} must be ${CODE_LENGTH} letters and digits (dashes optional); got ${s.length} usable characters.`, 400);
  }
  let all = 0n;
  for (const ch of s) all = (all << 5n) | BigInt(ALPHABET.indexOf(ch));
  const v = all >> BigInt(CRC_BITS);
  if (Number(all & 0x7fffn) !== crc15(v, PAYLOAD_BITS)) {
    throw new TandemError('code_typo', `The ${what} ${formatCode(s)} has a typing mistake (its check characters do not match). Copy it again.`, 400);
  }
  const k = Number(v >> BigInt(PAYLOAD_BITS - 3));
  if (k !== CodeKind[kind]) {
    const actual = kindName(k);
    throw new TandemError('code_wrong_kind', `That is ${actual ? KIND_LABEL[actual] : 'not a Tandem code'}, not ${KIND_LABEL[kind]}.`, 400);
  }
  const out: Record<string, bigint> = {};
  let shift = PAYLOAD_BITS - 3;
  for (const [name, bits] of layout) {
    shift -= bits;
    out[name] = (v >> BigInt(shift)) & ((1n << BigInt(bits)) - 1n);
  }
  return out;
}

/** Whether a string looks like a Tandem code of this kind (format and checksum only, no secret needed). */
export function isWellFormed(input: string, kind: CodeKind, layout: Layout): boolean {
  try {
    unpackCode(input, kind, layout);
    return true;
  } catch {
    return false;
  }
}
