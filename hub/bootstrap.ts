// First-start set-up shared by every runtime: the default organization and the first admin token.
import { eq } from 'drizzle-orm';
import { hashSecret, randomId, randomSecret } from '../shared/tokens';
import { apiTokens, orgs } from './db/schema';
import type { Db } from './db/types';

export const DEFAULT_ORG = 'org_default';

export async function ensureDefaultOrg(db: Db, now: number): Promise<void> {
  await db.insert(orgs).values({ id: DEFAULT_ORG, name: 'default', createdAt: now }).onConflictDoNothing();
}

/** Creates an admin token when the default org has none; returns the secret (shown once) or null. */
export async function ensureAdminToken(db: Db, now: number): Promise<string | null> {
  const existing = await db.select({ id: apiTokens.id }).from(apiTokens).where(eq(apiTokens.orgId, DEFAULT_ORG)).limit(1);
  if (existing.length) return null;
  const token = randomSecret('tnd_api');
  await db.insert(apiTokens).values({
    id: randomId('tok'), orgId: DEFAULT_ORG, name: 'admin (created at first start)', role: 'admin',
    tokenHash: await hashSecret(token), createdAt: now, lastUsedAt: null,
  });
  return token;
}

/** Workers: makes sure the operator-chosen admin token (a secret binding) is a valid admin token. */
export async function ensureAdminTokenHash(db: Db, tokenHash: string, now: number): Promise<void> {
  await db.insert(apiTokens).values({
    id: `tok_admin_${tokenHash.slice(0, 12)}`, orgId: DEFAULT_ORG, name: 'admin (TANDEM_ADMIN_TOKEN secret)', role: 'admin',
    tokenHash, createdAt: now, lastUsedAt: null,
  }).onConflictDoNothing();
}
