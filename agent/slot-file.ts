// A small record rewritten in place and made durable with one fdatasync: two fixed 4 KiB slots written
// alternately, each with a generation number and a CRC, so a write torn by a crash leaves the other slot (the
// previous record) intact. No temp file, no rename, no directory sync: the file's size never changes after
// it is created, which keeps each save to a single data-block flush (what per-batch acknowledgements need).
import fs from 'node:fs';
import { promisify } from 'node:util';
import { crc32 } from './source/queue/record-codec';

const SLOT_BYTES = 4096;
const HEADER_BYTES = 20; // magic u32 | generation u64 | length u32 | crc32 u32
const MAGIC = 0x54534c31; // "TSL1"
export const MAX_SLOT_RECORD_BYTES = SLOT_BYTES - HEADER_BYTES;

const fdatasync = promisify(fs.fdatasync);
const write = (fd: number, buf: Buffer, position: number) =>
  new Promise<number>((resolve, reject) => fs.write(fd, buf, 0, buf.length, position, (err, n) => (err ? reject(err) : resolve(n))));

function decodeSlot(buf: Buffer): { generation: number; data: string } | null {
  if (buf.length < HEADER_BYTES || buf.readUInt32LE(0) !== MAGIC) return null;
  const generation = Number(buf.readBigUInt64LE(4));
  const length = buf.readUInt32LE(12);
  if (length > MAX_SLOT_RECORD_BYTES) return null;
  const body = buf.subarray(HEADER_BYTES, HEADER_BYTES + length);
  if (body.length !== length || crc32(body) !== buf.readUInt32LE(16)) return null;
  return { generation, data: body.toString('utf8') };
}

export class SlotFile {
  private saving: Promise<void> = Promise.resolve();

  private constructor(private fd: number, private generation: number, readonly initial: string | null) {}

  /** Opens (creating) the file and reads the newest intact record, or null when there is none. */
  static open(path: string): SlotFile {
    const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
    const buf = Buffer.alloc(2 * SLOT_BYTES);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    let best: { generation: number; data: string } | null = null;
    for (const slot of [0, 1]) {
      const r = decodeSlot(buf.subarray(slot * SLOT_BYTES, Math.min(n, (slot + 1) * SLOT_BYTES)));
      if (r && (!best || r.generation > best.generation)) best = r;
    }
    return new SlotFile(fd, best?.generation ?? 0, best?.data ?? null);
  }

  /** Writes `data` (at most MAX_SLOT_RECORD_BYTES of UTF-8) over the older slot and flushes it; saves run one at a time. */
  save(data: string): Promise<void> {
    const next = this.saving.then(() => this.write(data));
    this.saving = next.catch(() => {});
    return next;
  }

  private async write(data: string): Promise<void> {
    const body = Buffer.from(data, 'utf8');
    if (body.length > MAX_SLOT_RECORD_BYTES) throw new RangeError(`slot record of ${body.length} bytes exceeds ${MAX_SLOT_RECORD_BYTES}`);
    const generation = this.generation + 1;
    const buf = Buffer.alloc(SLOT_BYTES);
    buf.writeUInt32LE(MAGIC, 0);
    buf.writeBigUInt64LE(BigInt(generation), 4);
    buf.writeUInt32LE(body.length, 12);
    buf.writeUInt32LE(crc32(body), 16);
    body.copy(buf, HEADER_BYTES);
    await write(this.fd, buf, (generation % 2) * SLOT_BYTES);
    await fdatasync(this.fd);
    this.generation = generation;
  }

  close(): void {
    if (this.fd < 0) return;
    fs.closeSync(this.fd);
    this.fd = -1;
  }
}
