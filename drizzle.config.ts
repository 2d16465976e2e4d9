// drizzle-kit settings: `npm run db:generate` writes SQL migrations for the hub schema.
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'sqlite',
  schema: './hub/db/schema/index.ts',
  out: './hub/db/migrations',
});
