// Vitest global setup: one temp directory per test run. Every temp dir the tests make (and the hub's and agents',
// which inherit TMPDIR) goes in it, and it is removed when the run ends: runs used to leave their trees in /tmp,
// gigabytes after a few dozen. TANDEM_KEEP_TEST_TMP=1 keeps it, to look at what a failed test left.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export default function setup(): () => void {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-test-run-'));
  fs.chmodSync(root, 0o1777); // like /tmp: a test may run something as another user
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = root;
  return () => {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    if (process.env.TANDEM_KEEP_TEST_TMP) {
      console.log(`test temp files kept in ${root}`);
      return;
    }
    fs.rmSync(root, { recursive: true, force: true });
  };
}
