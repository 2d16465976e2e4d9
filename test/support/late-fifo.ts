// A FIFO standing where a file was, with a writer that comes only later: a reader that waits for a writer (a
// blocking open) gets `content` after `delayMs`, one that does not wait sees no content at all.
import { spawn, execFileSync } from 'node:child_process';

export function fifoWithLateWriter(path: string, content: string, delayMs = 1500): { stop(): void } {
  execFileSync('mkfifo', [path]);
  const writer = spawn('sh', ['-c', `sleep ${delayMs / 1000}; printf %s "$1" > "$2"`, 'sh', content, path], { stdio: 'ignore' });
  // Nobody may ever read it (that is the point), so its open would wait for good: stopped by the test.
  return { stop: () => { writer.kill('SIGKILL'); } };
}
