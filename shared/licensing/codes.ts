// Licence codes, activation request codes and activation keys: what each 24-character code carries and how the hub
// proves it minted one (a 40-bit HMAC-SHA256 under the hub's issuer secret). WebCrypto only: runs on Node and Workers.
import { TandemError } from '../errors';
import { packCode, unpackCode, type Layout } from './checked-code';
import { Edition, LicenceType, fromCodeDay, toCodeDay } from './model';

const FORMAT_VERSION = 1;

const LICENCE_LAYOUT: Layout = [
  ['version', 2], ['type', 2], ['edition', 3], ['activation', 1], ['expiryDay', 16], ['serial', 38], ['mac', 40],
];
const REQUEST_LAYOUT: Layout = [['version', 2], ['host', 64], ['nonce', 36]];
const KEY_LAYOUT: Layout = [['version', 2], ['serial', 38], ['binding', 22], ['mac', 40]];

const te = new TextEncoder();

async function hmac40(secret: string, message: string): Promise<bigint> {
  const key = await crypto.subtle.importKey('raw', te.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const sig = new Uint8Array(await crypto.subtle.sign('HMAC', key, te.encode(message)));
  let v = 0n;
  for (let i = 0; i < 5; i++) v = (v << 8n) | BigInt(sig[i]!);
  return v;
}

async function sha256Bits(message: string, bits: number): Promise<bigint> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', te.encode(message)));
  let v = 0n;
  for (let i = 0; i < 8; i++) v = (v << 8n) | BigInt(d[i]!);
  return v >> BigInt(64 - bits);
}

function randomBits(bits: number): bigint {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v >> BigInt(64 - bits);
}

// --- Host identity -----------------------------------------------------------------------------------------------

/**
 * The host identity an activation binds to: 64 bits of SHA-256 over the machine id and the hostname. The hostname is
 * case-sensitive on purpose (manual: renaming a host, even changing its case, needs a deactivation or transfer).
 */
export async function hostFingerprint(machineId: string, hostname: string): Promise<string> {
  return (await sha256Bits(`tandem-host-v1\n${machineId}\n${hostname}`, 64)).toString(16).padStart(16, '0');
}

// --- Licence codes -----------------------------------------------------------------------------------------------

export interface LicenceCodeFields {
  type: LicenceType;
  edition: Edition;
  requiresActivation: boolean;
  /** End of validity (ms), rounded to whole UTC days; null for none. */
  expiresAt: number | null;
  /** 38-bit serial, unique per hub. */
  serial: number;
}

const macInput = (f: Record<string, bigint>) =>
  `licence|${f.version}|${f.type}|${f.edition}|${f.activation}|${f.expiryDay}|${f.serial}`;

export const randomSerial = () => Number(randomBits(38));
export const serialLabel = (serial: number) => `TL-${serial.toString(36).toUpperCase().padStart(8, '0')}`;

export async function makeLicenceCode(f: LicenceCodeFields, issuerSecret: string): Promise<string> {
  const fields: Record<string, bigint> = {
    version: BigInt(FORMAT_VERSION), type: BigInt(LicenceType.options.indexOf(f.type)),
    edition: BigInt(Edition.options.indexOf(f.edition)), activation: f.requiresActivation ? 1n : 0n,
    expiryDay: BigInt(f.expiresAt == null ? 0 : toCodeDay(f.expiresAt)), serial: BigInt(f.serial),
  };
  fields.mac = await hmac40(issuerSecret, macInput(fields));
  return packCode('licence', LICENCE_LAYOUT, fields);
}

/** Reads a licence code without any secret: format, checksum, type, edition, expiry. Typos fail here. */
export function readLicenceCode(input: string): LicenceCodeFields & { mac: bigint; raw: Record<string, bigint> } {
  const f = unpackCode(input, 'licence', LICENCE_LAYOUT);
  const type = LicenceType.options[Number(f.type)];
  const edition = Edition.options[Number(f.edition)];
  if (f.version !== BigInt(FORMAT_VERSION) || !type || !edition) {
    throw new TandemError('licence_code_unknown_format', 'This licence code is from a newer Tandem version or was not issued by Tandem.', 400);
  }
  const day = Number(f.expiryDay);
  return {
    type, edition, requiresActivation: f.activation === 1n, expiresAt: day === 0 ? null : fromCodeDay(day),
    serial: Number(f.serial), mac: f.mac!, raw: f,
  };
}

/** Full check of a licence code: readable and minted with this hub's issuer secret (else `licence_code_forged`). */
export async function verifyLicenceCode(input: string, issuerSecret: string): Promise<LicenceCodeFields> {
  const f = readLicenceCode(input);
  if ((await hmac40(issuerSecret, macInput(f.raw))) !== f.mac) {
    throw new TandemError('licence_code_forged', 'This licence code was not issued by this hub (its signature does not match). Check you are using the code your vendor sent.', 400);
  }
  const { mac: _m, raw: _r, ...fields } = f;
  return fields;
}

// --- Activation request codes (host → portal) --------------------------------------------------------------------

export interface RequestCodeFields {
  /** The host fingerprint (16 hex). */
  host: string;
  /** Random per request, so a used request cannot be replayed (36 bits, hex). */
  nonce: string;
}

export function makeRequestCode(host: string, nonce: string = randomBits(36).toString(16).padStart(9, '0')): string {
  return packCode('request', REQUEST_LAYOUT, { version: FORMAT_VERSION, host: BigInt(`0x${host}`), nonce: BigInt(`0x${nonce}`) });
}

export function readRequestCode(input: string): RequestCodeFields {
  const f = unpackCode(input, 'request', REQUEST_LAYOUT);
  return { host: f.host!.toString(16).padStart(16, '0'), nonce: f.nonce!.toString(16).padStart(9, '0') };
}

// --- Activation keys (portal → host) -----------------------------------------------------------------------------

/** Ties a key to one request: the host can check a key was made for its own request without any secret. */
export async function requestBinding(req: RequestCodeFields): Promise<bigint> {
  return sha256Bits(`binding|${req.host}|${req.nonce}`, 22);
}

const keyMacInput = (serial: number, req: RequestCodeFields) => `key|${FORMAT_VERSION}|${serial}|${req.host}|${req.nonce}`;

export async function makeActivationKey(serial: number, req: RequestCodeFields, issuerSecret: string): Promise<string> {
  return packCode('key', KEY_LAYOUT, {
    version: FORMAT_VERSION, serial: BigInt(serial), binding: await requestBinding(req),
    mac: await hmac40(issuerSecret, keyMacInput(serial, req)),
  });
}

export interface ActivationKeyFields { serial: number; binding: bigint; mac: bigint }

export function readActivationKey(input: string): ActivationKeyFields {
  const f = unpackCode(input, 'key', KEY_LAYOUT);
  return { serial: Number(f.serial), binding: f.binding!, mac: f.mac! };
}

/** Host side: is this key an answer to this request? (`activation_key_wrong_host` if not.) No secret needed. */
export async function checkKeyMatchesRequest(key: string, req: RequestCodeFields): Promise<ActivationKeyFields> {
  const k = readActivationKey(key);
  if (k.binding !== (await requestBinding(req))) {
    throw new TandemError('activation_key_wrong_host', 'This activation key was made for a different activation request (another host, or an older request). Enter the request code this host shows now.', 400);
  }
  return k;
}

/** Hub side: was this key minted by this hub for this request? */
export async function verifyActivationKey(key: string, req: RequestCodeFields, issuerSecret: string): Promise<ActivationKeyFields> {
  const k = await checkKeyMatchesRequest(key, req);
  if ((await hmac40(issuerSecret, keyMacInput(k.serial, req))) !== k.mac) {
    throw new TandemError('activation_key_forged', 'This activation key was not issued by this hub.', 400);
  }
  return k;
}
