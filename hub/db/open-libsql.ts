// Opens the hub database on Node: an embedded libSQL file by default, or a remote libSQL/Turso URL; applies migrations.
import { createClient } from '@libsql/client';
import { drizzle } from 'drizzle-orm/libsql';
import { migrate } from 'drizzle-orm/libsql/migrator';
import { fileURLToPath } from 'node:url';
import * as schema from './schema';
import type { Db } from './types';

export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations', import.meta.url));

export interface OpenDbOptions {
  /** `file:/path/hub.db`, `libsql://…`, `http(s)://…` or `:memory:`. */
  url: string;
  authToken?: string;
}

export async function openLibsqlDb(opts: OpenDbOptions): Promise<{ db: Db; close: () => void }> {
  const client = createClient({ url: opts.url, authToken: opts.authToken });
  if (opts.url.startsWith('file:')) {
    // WAL keeps readers (status polls) from blocking the writer; busy_timeout rides out short lock waits.
    await client.execute('PRAGMA journal_mode = WAL');
    await client.execute('PRAGMA busy_timeout = 5000');
  }
  await client.execute('PRAGMA foreign_keys = ON');
  const db = drizzle(client, { schema });
  await migrate(db, { migrationsFolder: MIGRATIONS_DIR });
  return { db, close: () => client.close() };
}
