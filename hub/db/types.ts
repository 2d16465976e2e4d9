// The database handle the hub's routes use: drizzle over libSQL on Node, over D1 on Workers (same SQLite dialect).
import type { LibSQLDatabase } from 'drizzle-orm/libsql';
import type * as schema from './schema';

export type Schema = typeof schema;
/** Both drivers expose the same async query builder and `batch`; D1 is adapted to this type in worker.ts. */
export type Db = LibSQLDatabase<Schema>;
