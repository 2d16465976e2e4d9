// The target's data port over real HTTPS: forged, stale and mis-scoped job tokens and path-escaping or NUL-carrying frames are refused.
import { describe, it, expect, beforeAll, afterAll, onTestFinished } from 'vitest';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Agent, request } from 'undici';
import { generateSigningKey, signHubJwt, type SigningKeyMaterial } from '../shared/tokens';
import { encodeFrame, FrameType } from '../shared/protocol/frames';
import type { DesiredJob } from '../shared/protocol/jobs';
import { FilesJobSpec } from '../shared/jobs/definition';
import { DataServer } from '../agent/data-server';
import { loadOrCreateTlsIdentity } from '../agent/tls';
import { createAgentLogger } from '../agent/log';
import { HubKeyCache } from '../agent/jobs/hub-keys';
import { TargetJob } from '../agent/target/target-job';
import { registerTargetRoutes } from '../agent/target/receiver';
import { tempPathFor } from '../agent/target/apply';
import { tempDir } from './support/processes';
import { mutations, HOSTILE_IN_REPORTS } from './support/mutations';

let key: SigningKeyMaterial;
let server: DataServer;
let job: TargetJob;
let src: string;
let dst: string;
let outside: string;
let desired: DesiredJob;
const tls = new Agent({ connect: { rejectUnauthorized: false } });
const meta = { mode: 0o644, uid: 0, gid: 0, mtimeMs: Date.now() };

beforeAll(async () => {
  key = await generateSigningKey();
  const dir = await tempDir('target');
  src = '/srv/protected';
  dst = await tempDir('replica');
  outside = await tempDir('outside');
  const keys = new HubKeyCache(dir);
  await keys.update([key.publicJwk]);
  const spec = FilesJobSpec.parse({ rules: [{ path: src, type: 'include' }], pathMapping: { mode: 'custom', entries: [{ source: src, target: dst }] } });
  desired = {
    jobId: 'job_1', name: 'j', role: 'target', run: 'running', state: 'mirroring', epoch: 3, spec: spec as never, sourceName: 'alpha',
    peer: { serverId: 'srv_src', name: 'alpha', addresses: ['127.0.0.1'], port: 1, fingerprint: 'x' }, jobToken: '', mirror: null, verify: null, controls: {},
  };
  const log = createAgentLogger('silent');
  job = new TargetJob(desired, { serverId: 'srv_tgt', keys, log, dataDir: dir });
  await job.open();
  server = new DataServer(await loadOrCreateTlsIdentity(dir, 'test'), log);
  registerTargetRoutes(server, (id) => (id === 'job_1' ? job : undefined));
  await server.listen(0, '127.0.0.1');
  // A symlink inside the replica that points outside it.
  await fs.symlink(outside, path.join(dst, 'escape'));
});
afterAll(async () => { await server?.close(); await job?.close(); });

async function token(claims: Record<string, unknown>, signer = key) {
  return signHubJwt(signer, 'job', { job: 'job_1', epoch: 3, src: 'srv_src', tgt: 'srv_tgt', ...claims }, Math.floor(Date.now() / 1000) + 600);
}

async function post(p: string, body: Buffer | string, tok: string) {
  const res = await request(`https://127.0.0.1:${server.port}${p}`, { method: 'POST', dispatcher: tls, body, headers: { authorization: `Bearer ${tok}` } });
  return { status: res.statusCode, body: (await res.body.json()) as any };
}

const frame = (op: Record<string, unknown>, payload?: Buffer) => encodeFrame({ type: FrameType.fileOp, header: op, payload });

describe('target data port', () => {
  it('accepts a valid token for this job, target and epoch', async () => {
    const r = await post('/v1/data/hello?job=job_1', '{}', await token({}));
    expect(r).toMatchObject({ status: 200, body: { ok: true, epoch: 3 } });
    // What it can do beyond the first protocol: a source sends a directory's names in parts only to a target saying so.
    expect(r.body.features).toContain('dir_name_parts');
  });

  it('refuses a forged token (signed by another key)', async () => {
    const forger = await generateSigningKey();
    const r = await post('/v1/data/hello?job=job_1', '{}', await token({}, { ...forger, kid: key.kid }));
    expect(r).toMatchObject({ status: 401, body: { error: { code: 'token_invalid' } } });
  });

  it('refuses a stale epoch with epoch_stale (fencing) and a token for another target', async () => {
    expect((await post('/v1/data/hello?job=job_1', '{}', await token({ epoch: 2 }))).body.error.code).toBe('epoch_stale');
    expect((await post('/v1/data/hello?job=job_1', '{}', await token({ tgt: 'srv_other' }))).body.error.code).toBe('job_token_scope');
    expect((await post('/v1/data/hello?job=job_1', '{}', 'garbage')).status).toBe(401);
  });

  it('refuses path-traversal, out-of-set and through-symlink frames, applies the rest, and counts the refusals', async () => {
    const body = Buffer.concat([
      frame({ op: 'file', path: `${src}/../../etc/evil`, offset: 0, final: true, size: 4, meta }, Buffer.from('evil')),
      frame({ op: 'file', path: '/etc/evil', offset: 0, final: true, size: 4, meta }, Buffer.from('evil')),
      frame({ op: 'file', path: `${src}/escape/evil`, offset: 0, final: true, size: 4, meta }, Buffer.from('evil')),
      frame({ op: 'file', path: `${src}/ok.txt`, offset: 0, final: true, size: 2, meta }, Buffer.from('ok')),
    ]);
    const r = await post('/v1/data/apply?job=job_1', body, await token({}));
    expect(r.status).toBe(200);
    expect(r.body.applied).toBe(1);
    expect(r.body.refused.map((x: any) => x.code)).toEqual(['path_escape', 'path_outside_set', 'path_through_symlink']);
    expect(await fs.readFile(path.join(dst, 'ok.txt'), 'utf8')).toBe('ok');
    expect(await fs.readdir(outside)).toEqual([]);
    await expect(fs.access('/etc/evil')).rejects.toThrow();
    expect(job.report().refusedPaths).toBe(3);
  });

  it('refuses paths with a NUL byte in any path field (a C string would end there), applies the rest, and counts the refusals', async () => {
    await fs.writeFile(path.join(dst, 'victim.txt'), 'untouched');
    const before = job.report().refusedPaths ?? 0;
    const body = Buffer.concat([
      // Cut at the NUL, this would be ${src}/victim.txt: a file op that overwrites another file.
      frame({ op: 'file', path: `${src}/victim.txt\0.tmp`, offset: 0, final: true, size: 4, meta }, Buffer.from('evil')),
      // The NUL hides a climb out of the replica from a check that stops reading at it.
      frame({ op: 'mkdir', path: `${src}/x\0/../../../etc/evil-dir`, meta: { ...meta, mode: 0o755 } }),
      frame({ op: 'rename', path: `${src}/renamed.txt`, from: `${src}/victim.txt\0` }),
      frame({ op: 'hardlink', path: `${src}/linked.txt`, existing: `${src}/victim.txt\0` }),
      frame({ op: 'delete', path: `${src}/victim.txt\0` }),
      frame({ op: 'file', path: `${src}/fine.txt`, offset: 0, final: true, size: 4, meta }, Buffer.from('fine')),
    ]);
    const r = await post('/v1/data/apply?job=job_1', body, await token({}));
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.applied).toBe(1);
    expect(r.body.refused.map((x: any) => x.code)).toEqual(['path_invalid', 'path_invalid', 'path_invalid', 'path_invalid', 'path_invalid']);
    expect(await fs.readFile(path.join(dst, 'fine.txt'), 'utf8')).toBe('fine');
    expect(await fs.readFile(path.join(dst, 'victim.txt'), 'utf8')).toBe('untouched');
    expect((await fs.readdir(dst)).sort()).toEqual(['escape', 'fine.txt', 'ok.txt', 'victim.txt']);
    await expect(fs.access('/etc/evil-dir')).rejects.toThrow();
    expect(job.report().refusedPaths).toBe(before + 5);
  });

  it('refuses an oversized frame before reading it, and garbage frames', async () => {
    const big = Buffer.alloc(20);
    big.writeUInt16BE(0x5446, 0); big.writeUInt8(1, 2); big.writeUInt8(FrameType.fileOp, 3);
    big.writeUInt32BE(10, 8); big.writeUInt32BE(512 * 1024 * 1024, 12); big.writeUInt32BE(512 * 1024 * 1024, 16);
    const r = await post('/v1/data/apply?job=job_1', big, await token({}));
    expect(r).toMatchObject({ status: 413, body: { error: { code: 'frame_too_large' } } });
    const g = await post('/v1/data/apply?job=job_1', Buffer.from('this is not a frame at all......'), await token({}));
    expect(g).toMatchObject({ status: 400, body: { error: { code: 'frame_invalid' } } });
  });

  it('never writes through a symlink planted at the name of a file\'s temp file (whole file, and a continued one)', async () => {
    const victim = path.join(outside, 'victim');
    await fs.writeFile(victim, 'outside, untouched');
    onTestFinished(() => fs.rm(victim, { force: true }));
    for (const [name, offset] of [['planted.txt', 0], ['continued.txt', 4]] as const) {
      // The temp name the target uses for the file, taken by a symlink to a file outside the replica.
      const temp = path.basename(tempPathFor(path.join(dst, name)));
      const r = await post('/v1/data/apply?job=job_1', Buffer.concat([
        frame({ op: 'symlink', path: `${src}/${temp}`, target: victim }),
        frame({ op: 'file', path: `${src}/${name}`, offset, final: true, size: offset + 4, meta: { ...meta, mode: 0o777 } }, Buffer.from('evil')),
      ]), await token({}));
      expect(r.status, `${name}: ${JSON.stringify(r.body)}`).toBeLessThan(500);
      expect(await fs.readFile(victim, 'utf8'), name).toBe('outside, untouched');
      expect((await fs.stat(victim)).mode & 0o777, name).not.toBe(0o777);
    }
    await fs.rm(path.join(dst, 'planted.txt'), { force: true });
    await fs.rm(path.join(dst, 'continued.txt'), { force: true });
  });

  it('never writes through a directory turned into a link by a hard link to a symlink', async () => {
    for (const f of [frame({ op: 'symlink', path: `${src}/out`, target: outside }), frame({ op: 'file', path: `${src}/hl/first.txt`, offset: 0, final: true, size: 2, meta }, Buffer.from('ok'))]) {
      expect((await post('/v1/data/apply?job=job_1', f, await token({}))).status).toBe(200);
    }
    const r = await post('/v1/data/apply?job=job_1', Buffer.concat([
      // hl/ is a directory the target has written into (so it knows it as a safe one)...
      frame({ op: 'file', path: `${src}/hl/second.txt`, offset: 0, final: true, size: 2, meta }, Buffer.from('ok')),
      // ...then becomes another name of the symlink to outside (a hard link to a link is a link)...
      frame({ op: 'hardlink', path: `${src}/hl`, existing: `${src}/out` }),
      // ...and a file goes below it.
      frame({ op: 'file', path: `${src}/hl/evil.txt`, offset: 0, final: true, size: 4, meta }, Buffer.from('evil')),
    ]), await token({}));
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.refused.map((x: any) => x.code)).toEqual(['path_through_symlink']);
    expect(await fs.readdir(outside)).toEqual([]);
    for (const p of ['hl', 'out']) await fs.rm(path.join(dst, p), { recursive: true, force: true });
  });

  it('never writes through the replica root itself turned into a symlink', async () => {
    // Save the replica for the tests after this one, and put it back at the end.
    const saved = `${dst}.saved`;
    await fs.rename(dst, saved);
    await fs.mkdir(dst);
    onTestFinished(async () => { await fs.rm(dst, { recursive: true, force: true }); await fs.rename(saved, dst); });
    // The source's protected path became a symlink: the replica root follows (a symlink op on the root's path)...
    const r = await post('/v1/data/apply?job=job_1', frame({ op: 'symlink', path: src, target: outside }), await token({}));
    expect(r.body).toMatchObject({ applied: 1, refused: [] });
    expect((await fs.lstat(dst)).isSymbolicLink()).toBe(true);
    // ...and nothing is written below it, by a whole file, a directory or a rename.
    const r2 = await post('/v1/data/apply?job=job_1', Buffer.concat([
      frame({ op: 'file', path: `${src}/evil.txt`, offset: 0, final: true, size: 4, meta }, Buffer.from('evil')),
      frame({ op: 'mkdir', path: `${src}/evil-dir`, meta: { ...meta, mode: 0o755 } }),
    ]), await token({}));
    expect(r2.status, JSON.stringify(r2.body)).toBe(200);
    expect(r2.body.refused.map((x: any) => x.code)).toEqual(['path_through_symlink', 'path_through_symlink']);
    expect(r2.body.refused[0].message).toMatch(/replica root .* is a symlink/);
    expect(await fs.readdir(outside)).toEqual([]);
  });

  it('never lists, deletes or moves orphans through a symlink the source names as a directory', async () => {
    await fs.writeFile(path.join(outside, 'precious.txt'), 'keep me');
    onTestFinished(() => fs.rm(path.join(outside, 'precious.txt'), { force: true }));
    // `escape` is a symlink in the replica to a folder outside it; the source lists it as an empty directory.
    const r = await post('/v1/data/manifest?job=job_1', JSON.stringify({
      mirrorId: 'm', purpose: 'mirror', mode: 'different', newerOnly: false, blockChecksum: false,
      orphans: { action: 'delete' }, entries: [], dirs: [{ path: `${src}/escape`, names: [] }],
    }), await token({}));
    expect(r.status, JSON.stringify(r.body)).toBeLessThan(500);
    expect(await fs.readdir(outside)).toEqual(['precious.txt']);
  });

  it('moves orphans only to the job\'s own moveTo folder, never to one the source names', async () => {
    await fs.mkdir(path.join(dst, 'od'));
    onTestFinished(() => fs.rm(path.join(dst, 'od'), { recursive: true, force: true }));
    await fs.writeFile(path.join(dst, 'od', 'orphan.txt'), 'orphan');
    // The listing of od names nothing: orphan.txt is an orphan, to be moved.
    const ask = async () => post('/v1/data/manifest?job=job_1', JSON.stringify({
      mirrorId: 'm', purpose: 'mirror', mode: 'different', newerOnly: false, blockChecksum: false,
      orphans: { action: 'move', moveTo: outside }, entries: [], dirs: [{ path: `${src}/od`, names: [] }],
    }), await token({}));
    // This job moves orphans nowhere: the folder the source names is not taken instead.
    expect(await ask()).toMatchObject({ status: 400, body: { error: { code: 'orphans_move_to_missing' } } });
    expect(await fs.readdir(outside)).toEqual([]);
    expect(await fs.readFile(path.join(dst, 'od', 'orphan.txt'), 'utf8')).toBe('orphan');
    // A job with a moveTo folder: there, whatever the source names.
    const moved = await tempDir('moved');
    await job.update({ ...desired, spec: { ...desired.spec, orphans: { action: 'move', moveTo: moved } } }, false);
    onTestFinished(() => job.update(desired, false));
    const r = await ask();
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.orphans).toMatchObject({ found: 1, moved: 1 });
    expect(await fs.readdir(outside)).toEqual([]);
    expect(await fs.readFile(path.join(moved, src.slice(1), 'od', 'orphan.txt'), 'utf8')).toBe('orphan');
  });

  it('deferred block hashes: only for a valid token, only inside the replica (refusals counted), only sane block sizes', async () => {
    await fs.writeFile(path.join(dst, 'big.bin'), Buffer.alloc(10_000, 7));
    onTestFinished(() => fs.rm(path.join(dst, 'big.bin')));
    const ask = async (body: unknown, tok?: string) => post('/v1/data/hashes?job=job_1', JSON.stringify(body), tok ?? await token({}));
    const refusedBefore = job.report().refusedPaths ?? 0;
    for (const p of [`${src}/../../etc/passwd`, '/etc/passwd', `${src}/escape/secret`]) {
      const r = await ask({ path: p, blockSize: 4096 });
      expect(r.status, p).toBe(400);
      expect(r.body.digests).toBeUndefined();
    }
    expect(job.report().refusedPaths).toBe(refusedBefore + 3);
    expect(await ask({ path: `${src}/big.bin`, blockSize: 1 })).toMatchObject({ status: 400, body: { error: { code: 'invalid_request' } } });
    expect((await post('/v1/data/hashes?job=job_1', 'not json', await token({}))).status).toBe(400);
    expect((await ask({ path: `${src}/big.bin`, blockSize: 4096 }, await token({ epoch: 2 }))).body.error.code).toBe('epoch_stale');
    const ok = await ask({ path: `${src}/big.bin`, blockSize: 4096 });
    expect(ok.status).toBe(200);
    expect(ok.body.fileSize).toBe(10_000);
    expect(Buffer.from(ok.body.digests, 'base64')).toHaveLength(3 * 16);
  });

  describe('bad input with a valid token: never a 500, never a write outside the replica', () => {
    /** POST without assuming a JSON answer; a 500, a non-JSON error or a 4xx without {error: {code, message}} is a failure. */
    async function postAny(p: string, body: Buffer | string, tok: string, note: string, failures: string[]): Promise<number> {
      const res = await request(`https://127.0.0.1:${server.port}${p}`, { method: 'POST', dispatcher: tls, body, headers: { authorization: `Bearer ${tok}` } });
      const text = await res.body.text();
      let json: any = null;
      try { json = JSON.parse(text); } catch { /* reported below */ }
      const what = `${p} (${note}) → ${res.statusCode} ${text.slice(0, 300)}`;
      if (res.statusCode >= 500) failures.push(what);
      else if (res.statusCode >= 400 && (typeof json?.error?.code !== 'string' || !json?.error?.message)) failures.push(`${what}: no {error: {code, message}}`);
      return res.statusCode;
    }

    async function outsideUntouched(): Promise<void> {
      expect(await fs.readdir(outside)).toEqual([]);
      // The port still serves the job.
      expect((await post('/v1/data/hello?job=job_1', '{}', await token({}))).status).toBe(200);
    }

    /** A folder of the replica for one test (removed after it), a valid token, and the list of what went wrong. */
    async function fuzzSetup(name: string): Promise<{ tok: string; failures: string[] }> {
      await fs.mkdir(path.join(dst, name), { recursive: true });
      onTestFinished(() => fs.rm(path.join(dst, name), { recursive: true, force: true }));
      return { tok: await token({}), failures: [] };
    }

    it('every one-value mutation of a manifest request and of a block-hashes request', async () => {
      const { tok, failures } = await fuzzSetup('fz');
      await fs.writeFile(path.join(dst, 'fz', 'a.txt'), 'abc');
      await fs.writeFile(path.join(dst, 'fz', 'orphan.txt'), 'orphan');
      const manifest = {
        mirrorId: 'm', purpose: 'mirror', mode: 'different', newerOnly: true, blockChecksum: true, orphans: { action: 'delete' },
        entries: [
          { path: `${src}/fz`, type: 'dir', size: 0, meta: { ...meta, mode: 0o755 } },
          { path: `${src}/fz/a.txt`, type: 'file', size: 4, meta, checkContent: true },
          { path: `${src}/fz/b.txt`, type: 'file', size: 4, meta, linkOf: `${src}/fz/a.txt` },
          { path: `${src}/fz/l`, type: 'symlink', size: 0, meta, target: '../a.txt' },
        ],
        dirs: [{ path: `${src}/fz`, names: ['a.txt', 'b.txt', 'l'] }],
        deferHashesFrom: 2,
      };
      let accepted = 0;
      for (const [i, body] of [...mutations(manifest, HOSTILE_IN_REPORTS)].entries()) {
        if ((await postAny('/v1/data/manifest?job=job_1', JSON.stringify(body), tok, `mutation ${i}`, failures)) === 200) accepted++;
      }
      for (const [i, body] of [...mutations({ path: `${src}/fz/a.txt`, blockSize: 4096 })].entries()) {
        if ((await postAny('/v1/data/hashes?job=job_1', JSON.stringify(body), tok, `mutation ${i}`, failures)) === 200) accepted++;
      }
      for (const raw of ['', 'null', '[]', '{', 'x'.repeat(70_000)]) {
        for (const route of ['manifest', 'hashes']) await postAny(`/v1/data/${route}?job=job_1`, raw, tok, 'raw', failures);
      }
      expect(failures).toEqual([]);
      expect(accepted, 'mutated requests that passed validation').toBeGreaterThan(20);
      await outsideUntouched();
    });

    it('every one-value mutation of each kind of file operation, in apply and replicate streams', async () => {
      const { tok, failures } = await fuzzSetup('fo');
      const f = `${src}/fo/f.txt`;
      const ops: { op: Record<string, unknown>; payload?: Buffer }[] = [
        { op: { op: 'mkdir', path: `${src}/fo/d`, meta: { ...meta, mode: 0o755 } } },
        { op: { op: 'file', path: f, offset: 0, final: true, size: 5, meta }, payload: Buffer.from('hello') },
        { op: { op: 'write', path: f, offset: 1 }, payload: Buffer.from('EL') },
        { op: { op: 'truncate', path: f, size: 3 } },
        { op: { op: 'meta', path: f, meta } },
        { op: { op: 'symlink', path: `${src}/fo/l`, target: 'f.txt', meta } },
        { op: { op: 'hardlink', path: `${src}/fo/h.txt`, existing: f, expect: { size: 3, mtimeMs: meta.mtimeMs } } },
        { op: { op: 'rename', path: `${src}/fo/g.txt`, from: `${src}/fo/h.txt` } },
        { op: { op: 'delete', path: `${src}/fo/g.txt` } },
      ];
      // Paths inside the protected set that are odd for the operation (the set's root, a directory, through a symlink,
      // below a file, climbing back in, a temp file's name), and sizes and offsets far beyond the data.
      const odd = [src, `${src}/fo`, `${src}/fo/l/x`, `${src}/fo/f.txt/sub`, `${src}/fo/d/../../fo/x`, `${src}//fo///f.txt`, `${src}/fo/.tandem.0.part`, 0, 2 ** 33];
      let accepted = 0;
      for (const { op, payload } of ops) {
        for (const [i, header] of [...mutations(op, [...HOSTILE_IN_REPORTS, ...odd])].entries()) {
          // Each mutated operation after a valid file, so an operation on it has something to act on.
          const body = Buffer.concat([encodeFrame({ type: FrameType.fileOp, header: ops[1]!.op, payload: ops[1]!.payload }), encodeFrame({ type: FrameType.fileOp, header: header as never, payload })]);
          if ((await postAny('/v1/data/apply?job=job_1', body, tok, `${op.op} mutation ${i}`, failures)) === 200) accepted++;
        }
      }
      // Streams cut anywhere, and frames of another type.
      const whole = Buffer.concat(ops.map(({ op, payload }) => encodeFrame({ type: FrameType.fileOp, header: op as never, payload })));
      for (let cut = 1; cut < whole.length; cut += 7) await postAny('/v1/data/apply?job=job_1', whole.subarray(0, cut), tok, `cut at ${cut}`, failures);
      for (const type of [0, 2, 3, 99, 255]) {
        await postAny('/v1/data/apply?job=job_1', encodeFrame({ type, header: ops[1]!.op as never, payload: ops[1]!.payload }), tok, `frame type ${type}`, failures);
      }
      for (const raw of [Buffer.alloc(0), Buffer.from('{}'), Buffer.alloc(100_000, 0xff)]) {
        for (const route of ['apply', 'replicate']) await postAny(`/v1/data/${route}?job=job_1`, raw, tok, 'raw', failures);
      }
      expect(failures).toEqual([]);
      expect(accepted, 'streams applied').toBeGreaterThan(30);
      await outsideUntouched();
    });

    it('the same mutations on the replication stream (in order, by sequence number): never a 500, never outside', async () => {
      const { tok, failures } = await fuzzSetup('ro');
      const f = `${src}/ro/f.txt`;
      const ops: { op: Record<string, unknown>; payload?: Buffer }[] = [
        { op: { op: 'file', path: f, offset: 0, final: true, size: 5, meta }, payload: Buffer.from('hello') },
        { op: { op: 'write', path: f, offset: 1 }, payload: Buffer.from('EL') },
        { op: { op: 'symlink', path: `${src}/ro/l`, target: outside, meta } },
        { op: { op: 'rename', path: `${src}/ro/g.txt`, from: f } },
      ];
      let seq = (job.report().replication as { receivedSeq?: number } | undefined)?.receivedSeq ?? 0;
      for (const { op, payload } of ops) {
        for (const [i, header] of [...mutations(op, [...HOSTILE_IN_REPORTS, src, `${src}/ro/l/x`])].entries()) {
          const body = encodeFrame({ type: FrameType.fileOp, header: { seq: ++seq + 100, op: header } as never, payload });
          await postAny('/v1/data/replicate?job=job_1', body, tok, `${op.op} mutation ${i}`, failures);
        }
      }
      for (const header of [{}, { seq: 0, op: ops[0]!.op }, { seq: -1, op: ops[0]!.op }, { seq: 1.5, op: ops[0]!.op }, { seq: 'x', op: ops[0]!.op }]) {
        await postAny('/v1/data/replicate?job=job_1', encodeFrame({ type: FrameType.fileOp, header: header as never }), tok, `header ${JSON.stringify(header)}`, failures);
      }
      expect(failures).toEqual([]);
      // The stream was applied, not only refused: valid mutations went through in order.
      expect((job.report().replication as { appliedSeq: number }).appliedSeq).toBeGreaterThan(seq / 2);
      await outsideUntouched();
    });
  });
});
