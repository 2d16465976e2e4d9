// Opt-in fuzz runs of the seeded random writer, for hunting replication bugs (not part of a normal `npm test`:
// without TANDEM_FUZZ_SEEDS every case is skipped). Example, 20 seeds on a 3,000-file tree, the source killed
// half way:
//   TANDEM_FUZZ_SEEDS=201-220 TANDEM_FUZZ_KILL=source npx vitest run test/random-writer-fuzz.test.ts
// TANDEM_FUZZ_OPS (default 1000), TANDEM_FUZZ_DIRS x TANDEM_FUZZ_FILES (default 30 x 100), TANDEM_FUZZ_KILL
// (none, source or target). Agent logs at debug level: TANDEM_TEST_LOG=debug.
import { describe, it, beforeAll, afterAll, afterEach } from 'vitest';
import { startCluster, type Cluster } from './support/cluster';
import { randomWriterDuringMirror } from './support/random-writer-run';

function seeds(spec: string | undefined): number[] {
  if (!spec) return [];
  return spec.split(',').flatMap((part) => {
    const [a, b] = part.split('-').map(Number);
    return b === undefined ? [a!] : Array.from({ length: b - a! + 1 }, (_, i) => a! + i);
  }).filter((n) => Number.isInteger(n));
}

const SEEDS = seeds(process.env.TANDEM_FUZZ_SEEDS);
const KILL = process.env.TANDEM_FUZZ_KILL === 'source' || process.env.TANDEM_FUZZ_KILL === 'target' ? process.env.TANDEM_FUZZ_KILL : undefined;

describe.skipIf(SEEDS.length === 0)('random writer fuzz (TANDEM_FUZZ_SEEDS)', () => {
  let c: Cluster;
  beforeAll(async () => { c = await startCluster(); });
  afterAll(async () => { await c?.stop(); });
  afterEach(async () => { await c?.ensureRunning(); });

  it.each(SEEDS.length ? SEEDS : [0])('seed %i', async (seed) => {
    await randomWriterDuringMirror(c, seed, {
      dirs: Number(process.env.TANDEM_FUZZ_DIRS ?? 30), files: Number(process.env.TANDEM_FUZZ_FILES ?? 100),
      ops: Number(process.env.TANDEM_FUZZ_OPS ?? 1000), kill: KILL,
    });
  }, 300_000);
});
