#!/usr/bin/env node
// The `tandem` binary: loads the TypeScript sources through tsx and runs the CLI.
// File system calls run on libuv's thread pool; its default of 4 threads serialises the target's parallel
// file creation (and one slow fsync stalls every other call). It must be sized before the pool first starts.
process.env.UV_THREADPOOL_SIZE ??= '16';
const { register } = await import('tsx/esm/api');

register();
await import('../cli.ts');
