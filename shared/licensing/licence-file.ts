// Signed licence files (Keygen-style machine files): an EdDSA JWS from the hub, armoured as text, that a host verifies
// with only the hub's public JWK, offline. Also the activation request file a host writes for offline activation.
import { z } from 'zod';
import type { JWK } from 'jose';
import { TandemError } from '../errors';
import { signHubJwt, verifyHubJwt, type SigningKeyMaterial } from '../tokens';
import { Edition, LicenceType } from './model';

const BEGIN = '-----BEGIN TANDEM LICENCE FILE-----';
const END = '-----END TANDEM LICENCE FILE-----';

export const LicenceClaims = z.object({
  /** Licence serial label, e.g. TL-00ABC123. */
  sub: z.string(),
  org: z.string(),
  code: z.string(),
  type: LicenceType,
  edition: Edition,
  /** Host fingerprint the file is bound to (null: not host-bound, e.g. an evaluation code). */
  host: z.string().nullable(),
  hostname: z.string().nullable(),
  serverId: z.string().nullable(),
  assignment: z.string(),
  /** When the licence itself ends (ms), independent of this file's own exp. */
  licenceExpiresAt: z.number().nullable(),
  quantity: z.number().nullable(),
  transfersUsed: z.number(),
  iat: z.number(),
  exp: z.number(),
});
export type LicenceClaims = z.infer<typeof LicenceClaims>;

export type LicenceFileInput = Omit<LicenceClaims, 'iat' | 'exp'>;

export function armour(jws: string): string {
  return [BEGIN, ...(jws.match(/.{1,64}/g) ?? []), END, ''].join('\n');
}

export function unarmour(text: string): string {
  const t = text.trim();
  const body = t.startsWith(BEGIN) ? t.slice(BEGIN.length, t.lastIndexOf(END) > 0 ? t.lastIndexOf(END) : undefined) : t;
  const jws = body.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(jws)) {
    throw new TandemError('licence_file_malformed', 'This is not a Tandem licence file (expected a BEGIN TANDEM LICENCE FILE block). Download it again.', 400);
  }
  return jws;
}

/** Hub side: signs a licence file valid until expiresAtMs (never beyond the licence's own end). */
export async function signLicenceFile(key: SigningKeyMaterial, claims: LicenceFileInput, expiresAtMs: number): Promise<string> {
  const exp = Math.floor(Math.min(expiresAtMs, claims.licenceExpiresAt ?? Infinity) / 1000);
  return armour(await signHubJwt(key, 'licence', { ...claims }, exp));
}

/**
 * Host side: verifies a licence file with the hub's public keys and no network. Refuses a tampered or foreign file
 * (`licence_file_invalid`), an expired one (`licence_file_expired`) and one bound to another host
 * (`licence_file_wrong_host`).
 */
export async function verifyLicenceFile(
  text: string, publicJwks: JWK[], opts: { now: number; hostFingerprint?: string },
): Promise<LicenceClaims> {
  const jws = unarmour(text);
  let payload: unknown;
  try {
    payload = await verifyHubJwt(jws, publicJwks, 'licence', Math.floor(opts.now / 1000));
  } catch (err) {
    const e = err as TandemError;
    if (e.code === 'token_expired') {
      throw new TandemError('licence_file_expired', 'This licence file has expired. Refresh it online (the agent does this by itself when it reaches the hub) or download a new one from the portal.', 400);
    }
    throw new TandemError('licence_file_invalid', `This licence file was not signed by this hub or was changed after signing (${e.code}). Download it again.`, 400);
  }
  const claims = LicenceClaims.parse(payload);
  if (opts.hostFingerprint && claims.host && claims.host !== opts.hostFingerprint) {
    throw new TandemError('licence_file_wrong_host', `This licence file is bound to host ${claims.hostname ?? claims.host}, not this host. Activate the licence for this host or transfer it.`, 400);
  }
  return claims;
}

/** Reads the claims without verifying (for display only, never for decisions). */
export function peekLicenceFile(text: string): LicenceClaims | null {
  try {
    const part = unarmour(text).split('.')[1]!;
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
    return LicenceClaims.parse(JSON.parse(json));
  } catch {
    return null;
  }
}

// --- Activation request file (host → portal, for hosts that cannot reach the hub) --------------------------------

export const ActivationRequestFile = z.strictObject({
  kind: z.literal('tandem-activation-request'),
  v: z.literal(1),
  requestCode: z.string().min(24).max(40),
  hostname: z.string().min(1).max(255),
  serverId: z.string().max(100).nullable(),
  agentVersion: z.string().max(50),
  createdAt: z.string(),
  /** Licence codes the host asks to activate (optional; the portal form may name one instead). */
  codes: z.array(z.string().max(40)).max(100).default([]),
});
export type ActivationRequestFile = z.infer<typeof ActivationRequestFile>;

export function parseActivationRequestFile(text: string): ActivationRequestFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new TandemError('activation_request_malformed', 'The activation request file is not valid JSON. Upload the file written by `tandem license request --file`.', 400);
  }
  const parsed = ActivationRequestFile.safeParse(raw);
  if (!parsed.success) {
    throw new TandemError('activation_request_malformed', 'This is not a Tandem activation request file. Upload the file written by `tandem license request --file`.', 400);
  }
  return parsed.data;
}
