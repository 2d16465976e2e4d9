// The mirror benchmark's floor: the least a copy of the tree can do in Node over TLS between two processes on this
// machine (walk, read each file, one TLS stream of length-prefixed files, the receiver writing a temp file, mode,
// mtime and rename synchronously). No fsync, no manifest exchange, no path checks, no change capture: Tandem's
// mirror does all of those, so this line shows how much of its gap to rsync is Node and TLS here, and how much its own.
// The transport floor is less still: bytes over one TLS connection, no file read or written.
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { loadOrCreateTlsIdentity } from '../../agent/tls';

const RECEIVER = fileURLToPath(new URL('./floor-receiver.mjs', import.meta.url));
const FLUSH_BYTES = 256 * 1024;

interface Receiver {
  port: number;
  /** The next message from the receiver that starts with `prefix`, without it. */
  next(prefix: string): Promise<string>;
  stop(): void;
}

/** Forks floor-receiver.mjs writing into `dest`, or discarding what it gets when `dest` is `--discard`. */
async function startReceiver(dest: string, workDir: string): Promise<Receiver> {
  const id = await loadOrCreateTlsIdentity(path.join(workDir, 'floor-tls'), 'floor');
  const keyFile = path.join(workDir, 'floor-key.pem');
  const certFile = path.join(workDir, 'floor-cert.pem');
  fs.writeFileSync(keyFile, id.key, { mode: 0o600 });
  fs.writeFileSync(certFile, id.cert);
  const child = fork(RECEIVER, [dest, keyFile, certFile], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
  const messages: string[] = [];
  let wake: (() => void) | null = null;
  child.on('message', (m) => { messages.push(String(m)); wake?.(); });
  const next = async (prefix: string) => {
    for (;;) {
      const i = messages.findIndex((m) => m.startsWith(prefix));
      if (i >= 0) return messages.splice(i, 1)[0]!.slice(prefix.length);
      if (child.exitCode !== null) throw new Error(`floor receiver exited with ${child.exitCode}`);
      await new Promise<void>((r) => { wake = r; setTimeout(r, 1000); });
    }
  };
  try {
    return { port: Number(await next('port:')), next, stop: () => child.kill() };
  } catch (err) {
    child.kill();
    throw err;
  }
}

async function connect(port: number): Promise<tls.TLSSocket> {
  const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
  await new Promise<void>((resolve, reject) => { socket.once('secureConnect', resolve); socket.once('error', reject); });
  return socket;
}

/**
 * The transport floor: `bytes` of one reused buffer sent over one TLS connection to a receiver that discards them.
 * No file is read or written, so no copy of that many bytes in Node over TLS can take less time on this machine.
 */
export async function floorTransport(bytes: number, workDir: string): Promise<{ seconds: number }> {
  const receiver = await startReceiver('--discard', workDir);
  try {
    const chunk = randomBytes(1024 * 1024);
    const t0 = process.hrtime.bigint();
    const socket = await connect(receiver.port);
    for (let left = bytes; left > 0; left -= chunk.length) {
      if (!socket.write(left >= chunk.length ? chunk : chunk.subarray(0, left))) await new Promise((r) => socket.once('drain', r));
    }
    socket.end();
    const got = Number(await receiver.next('done:'));
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    socket.destroy();
    if (got !== bytes) throw new Error(`transport floor: the receiver got ${got} bytes of ${bytes}`);
    return { seconds };
  } finally {
    receiver.stop();
  }
}

/** Copies the regular files under `src` into `dest` (an empty directory); resolves with the seconds it took. */
export async function floorCopy(src: string, dest: string, workDir: string): Promise<{ seconds: number; files: number }> {
  const receiver = await startReceiver(dest, workDir);
  const { next } = receiver;
  try {
    const t0 = process.hrtime.bigint();
    const socket = await connect(receiver.port);
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = async () => {
      if (!pendingBytes) return;
      const ok = socket.write(Buffer.concat(pending, pendingBytes));
      pending = [];
      pendingBytes = 0;
      if (!ok) await new Promise((r) => socket.once('drain', r));
    };
    const walk = async (rel: string): Promise<void> => {
      for (const e of fs.readdirSync(path.join(src, rel), { withFileTypes: true })) {
        const name = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) await walk(name);
        if (!e.isFile()) continue;
        const file = path.join(src, name);
        const st = fs.lstatSync(file);
        const content = fs.readFileSync(file);
        const nameBytes = Buffer.from(name);
        const header = Buffer.alloc(24);
        header.writeUInt32LE(nameBytes.length, 0);
        header.writeUInt32LE(st.mode, 4);
        header.writeBigUInt64LE(BigInt(content.length), 8);
        header.writeDoubleLE(st.mtimeMs, 16);
        pending.push(header, nameBytes, content);
        pendingBytes += 24 + nameBytes.length + content.length;
        if (pendingBytes >= FLUSH_BYTES) await flush();
      }
    };
    await walk('');
    pending.push(Buffer.alloc(24)); // a zero name length ends the stream
    pendingBytes += 24;
    await flush();
    const files = Number(await next('done:'));
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    socket.destroy();
    return { seconds, files };
  } finally {
    receiver.stop();
  }
}
