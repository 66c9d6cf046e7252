// drizzle-kit settings: SQL migrations in migrations/ generated from the schema in core/schema.ts.
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'sqlite',
  schema: './core/schema.ts',
  out: './migrations',
});
