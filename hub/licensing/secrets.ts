// Hub-held secrets (licence issuer MAC key, portal cookie key): created on first use, kept in the db, cached per process.
import { eq } from 'drizzle-orm';
import { hubSecrets } from '../db/schema';
import type { Db } from '../db/types';

export type HubSecretName = 'licence-issuer' | 'portal-cookie';
const cache = new WeakMap<Db, Map<HubSecretName, string>>();

function randomHex(bytes: number): string {
  return [...crypto.getRandomValues(new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export async function hubSecret(db: Db, name: HubSecretName, now: number): Promise<string> {
  const mine = cache.get(db) ?? new Map<HubSecretName, string>();
  cache.set(db, mine);
  const hit = mine.get(name);
  if (hit) return hit;
  // Two hubs on one db may race to create it; both then read the winner's row.
  await db.insert(hubSecrets).values({ name, secret: randomHex(32), createdAt: now }).onConflictDoNothing();
  const [row] = await db.select().from(hubSecrets).where(eq(hubSecrets.name, name));
  mine.set(name, row!.secret);
  return row!.secret;
}
