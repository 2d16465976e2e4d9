// The hub's Ed25519 signing keys: created on first start, kept in the db, public halves served as a JWKS.
import { desc } from 'drizzle-orm';
import type { JWK } from 'jose';
import { generateSigningKey, type SigningKeyMaterial } from '../shared/tokens';
import { signingKeys } from './db/schema';
import type { Db } from './db/types';

export interface KeyStore {
  current(): SigningKeyMaterial;
  publicJwks(): JWK[];
}

/** Loads the keys, creating the first pair if the db has none (or adopting one supplied by a Workers secret). */
export async function loadKeyStore(db: Db, now: number, supplied?: SigningKeyMaterial): Promise<KeyStore> {
  let rows = await db.select().from(signingKeys).orderBy(desc(signingKeys.createdAt));
  if (supplied && !rows.some((r) => r.kid === supplied.kid)) {
    await db.insert(signingKeys).values({
      kid: supplied.kid, publicJwk: JSON.stringify(supplied.publicJwk), privateJwk: JSON.stringify(supplied.privateJwk), createdAt: now,
    }).onConflictDoNothing();
    rows = await db.select().from(signingKeys).orderBy(desc(signingKeys.createdAt));
  }
  if (rows.length === 0) {
    const key = await generateSigningKey();
    // Two hubs starting together on one db may both try; the loser adopts the winner's key by re-reading.
    await db.insert(signingKeys).values({
      kid: key.kid, publicJwk: JSON.stringify(key.publicJwk), privateJwk: JSON.stringify(key.privateJwk), createdAt: now,
    }).onConflictDoNothing();
    rows = await db.select().from(signingKeys).orderBy(desc(signingKeys.createdAt));
  }
  const keys: SigningKeyMaterial[] = rows.map((r) => ({
    kid: r.kid, publicJwk: JSON.parse(r.publicJwk), privateJwk: JSON.parse(r.privateJwk),
  }));
  const signing = supplied ?? keys[0]!;
  return { current: () => signing, publicJwks: () => keys.map((k) => k.publicJwk) };
}
