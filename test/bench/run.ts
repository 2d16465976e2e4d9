// `npm run bench [-- mirror lag throughput rto scale]`: runs the benchmarks of issues 3–5 against real hub and agent
// processes on 127.0.0.1, with the peer tools (rsync daemon, lsyncd) measured in the same run.
// Prints one `name value` figure per line on stdout (progress notes go to stderr).
// TANDEM_BENCH_SCALE (default 1) scales every data size and duration; 0.05 runs in a few minutes.
import { describeMachine, figure, note, figures, SCALE } from './common';
import { benchMirror } from './mirror';
import { benchLag } from './lag';
import { benchThroughput } from './throughput';
import { benchRto } from './rto';
import { benchScale } from './scale';

const BENCHMARKS: Record<string, () => Promise<void>> = {
  mirror: benchMirror,
  lag: benchLag,
  throughput: benchThroughput,
  rto: benchRto,
  scale: benchScale,
};
/** Run only when named: the scale benchmark creates and deletes two million files. */
const OPT_IN = new Set(['scale']);

async function main(): Promise<number> {
  const asked = process.argv.slice(2).filter((a) => a !== '--');
  const unknown = asked.filter((a) => !(a in BENCHMARKS));
  if (unknown.length) {
    console.error(`unknown benchmark(s): ${unknown.join(', ')}; choose from: ${Object.keys(BENCHMARKS).join(' ')}`);
    return 2;
  }
  const names = asked.length ? asked : Object.keys(BENCHMARKS).filter((n) => !OPT_IN.has(n));
  console.log(`machine ${describeMachine()}`);
  let failed = 0;
  const t0 = Date.now();
  for (const name of names) {
    const started = Date.now();
    note(`${name}: starting (scale ${SCALE})`);
    try {
      await BENCHMARKS[name]!();
    } catch (err) {
      failed++;
      figure(`${name}.FAILED`, ((err as Error).stack ?? String(err)).split('\n').slice(0, 3).join(' | '));
    }
    note(`${name}: done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
  figure('bench.total_seconds', (Date.now() - t0) / 1000, 0);
  if (process.env.TANDEM_BENCH_OUT) {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(process.env.TANDEM_BENCH_OUT, [`machine ${describeMachine()}`, ...figures.map(([k, v]) => `${k} ${v}`)].join('\n') + '\n');
  }
  return failed ? 1 : 0;
}

main().then((code) => process.exit(code), (err) => { console.error(err); process.exit(1); });
