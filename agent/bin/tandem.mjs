#!/usr/bin/env node
// The `tandem` binary: loads the TypeScript sources through tsx and runs the CLI.
// libuv's thread pool keeps its default of 4 threads: by the time an ES module runs, Node has already started the
// pool (it read this file through it), and 16 threads measured slower for the mirror on two cores anyway.
const { register } = await import('tsx/esm/api');

register();
await import('../cli.ts');
