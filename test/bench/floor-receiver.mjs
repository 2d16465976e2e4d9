// The receiving half of the benchmark's floor copy (see floor-copy.ts): a TLS server that writes each file it is sent
// to a temp name, sets its mode and mtime and renames it into place, all synchronously on its one thread. No fsync,
// no path checks: a lower bound for what any copy in Node over TLS costs here, not a way to copy anything.
// Usage (forked): node floor-receiver.mjs <dest-dir> <key.pem> <cert.pem>; sends 'port:<n>', then 'done:<files>'.
// With `--discard` as <dest-dir> it writes nothing: it reads the stream to its end and sends 'done:<bytes>' (the
// transport floor: TLS between two Node processes and nothing else).
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';

const [dest, keyFile, certFile] = process.argv.slice(2);
const options = { key: fs.readFileSync(keyFile), cert: fs.readFileSync(certFile) };
const discard = (socket) => {
  let bytes = 0;
  socket.on('data', (data) => { bytes += data.length; });
  socket.on('end', () => {
    socket.end();
    process.send(`done:${bytes}`);
  });
};
const server = tls.createServer(options, dest === '--discard' ? discard : (socket) => {
  const chunks = [];
  let buffered = 0;
  let header = null;
  let files = 0;
  const made = new Set();
  const take = (n) => {
    const out = Buffer.allocUnsafe(n);
    for (let o = 0; o < n;) {
      const c = chunks[0];
      const k = Math.min(c.length, n - o);
      c.copy(out, o, 0, k);
      o += k;
      if (k === c.length) chunks.shift();
      else chunks[0] = c.subarray(k);
    }
    buffered -= n;
    return out;
  };
  socket.on('data', (data) => {
    chunks.push(data);
    buffered += data.length;
    for (;;) {
      if (!header) {
        if (buffered < 24) return;
        const h = take(24);
        const nameLen = h.readUInt32LE(0);
        if (nameLen === 0) {
          socket.end();
          process.send(`done:${files}`);
          return;
        }
        header = { nameLen, mode: h.readUInt32LE(4), size: Number(h.readBigUInt64LE(8)), mtimeMs: h.readDoubleLE(16), name: null };
      }
      if (header.name === null) {
        if (buffered < header.nameLen) return;
        header.name = take(header.nameLen).toString('utf8');
      }
      if (buffered < header.size) return;
      const content = take(header.size);
      const file = path.join(dest, header.name);
      const dir = path.dirname(file);
      if (!made.has(dir)) {
        fs.mkdirSync(dir, { recursive: true });
        made.add(dir);
      }
      const tmp = path.join(dir, `.${path.basename(file)}.floor`);
      const fd = fs.openSync(tmp, 'w');
      fs.writeSync(fd, content);
      fs.fchmodSync(fd, header.mode & 0o7777);
      fs.futimesSync(fd, header.mtimeMs / 1000, header.mtimeMs / 1000);
      fs.closeSync(fd);
      fs.renameSync(tmp, file);
      files++;
      header = null;
    }
  });
});
server.listen(0, '127.0.0.1', () => process.send(`port:${server.address().port}`));
process.on('disconnect', () => process.exit(0));
