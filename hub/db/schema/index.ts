// All hub tables, one file per area; drizzle-kit and the db clients read this barrel.
export * from './core';
export * from './events';
export * from './jobs';
export * from './licensing';
