// Token primitives shared by hub and agent: opaque secrets (stored hashed) and hub-signed EdDSA JWTs.
import { SignJWT, jwtVerify, importJWK, exportJWK, generateKeyPair, errors as joseErrors, type JWK, type JWTPayload } from 'jose';
import { TandemError } from './errors';

export const HUB_ISSUER = 'tandem-hub';
export type HubJwtType = 'agent-config' | 'job' | 'licence';

export interface SigningKeyMaterial {
  kid: string;
  publicJwk: JWK;
  privateJwk: JWK;
}

function base64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** A random secret such as `tnd_api_…`; only its hash is ever stored. */
export function randomSecret(prefix: string, bytes = 32): string {
  return `${prefix}_${base64url(crypto.getRandomValues(new Uint8Array(bytes)))}`;
}

export function randomId(prefix: string): string {
  return `${prefix}_${base64url(crypto.getRandomValues(new Uint8Array(12)))}`;
}

export async function hashSecret(secret: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(secret));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export async function generateSigningKey(): Promise<SigningKeyMaterial> {
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const privateJwk = await exportJWK(privateKey);
  const kid = base64url(crypto.getRandomValues(new Uint8Array(9)));
  return { kid, publicJwk: { ...publicJwk, kid, alg: 'EdDSA', use: 'sig' }, privateJwk: { ...privateJwk, kid } };
}

export async function signHubJwt(
  key: SigningKeyMaterial,
  type: HubJwtType,
  claims: JWTPayload,
  expiresAtSec: number,
): Promise<string> {
  const privateKey = await importJWK(key.privateJwk, 'EdDSA');
  return new SignJWT({ ...claims, typ: type })
    .setProtectedHeader({ alg: 'EdDSA', kid: key.kid })
    .setIssuer(HUB_ISSUER)
    .setIssuedAt()
    .setExpirationTime(expiresAtSec)
    .sign(privateKey);
}

/**
 * Verifies a hub-signed JWT against the hub's public keys. Every failure is a 401 TandemError whose code says
 * what is wrong (expired vs forged vs wrong kind), so an operator knows whether to mint a new token.
 */
export async function verifyHubJwt<T extends JWTPayload>(
  token: string,
  publicJwks: JWK[],
  type: HubJwtType,
  nowSec?: number,
): Promise<T> {
  let kid: string | undefined;
  try {
    const header = JSON.parse(atob(token.split('.')[0]!.replace(/-/g, '+').replace(/_/g, '/')));
    kid = header.kid;
  } catch {
    throw new TandemError('token_malformed', 'The token is not a valid JWT. Copy the whole token again.', 401);
  }
  const jwk = publicJwks.find((k) => k.kid === kid);
  if (!jwk) throw new TandemError('token_invalid', 'The token was not signed by this hub.', 401);
  try {
    const { payload } = await jwtVerify(token, await importJWK(jwk, 'EdDSA'), {
      issuer: HUB_ISSUER,
      algorithms: ['EdDSA'],
      currentDate: nowSec === undefined ? undefined : new Date(nowSec * 1000),
    });
    if (payload.typ !== type) {
      throw new TandemError('token_wrong_type', `This is a ${String(payload.typ)} token, not a ${type} token.`, 401);
    }
    return payload as T;
  } catch (err) {
    if (err instanceof TandemError) throw err;
    if (err instanceof joseErrors.JWTExpired) {
      throw new TandemError('token_expired', 'The token has expired. Create a new one on the hub.', 401);
    }
    throw new TandemError('token_invalid', 'The token signature is not valid for this hub.', 401);
  }
}
