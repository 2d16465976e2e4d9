// All hub tables, one file per area; drizzle-kit and the db clients read this barrel.
export * from './core';
