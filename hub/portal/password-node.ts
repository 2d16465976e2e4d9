// scrypt password hashing for the Node hub (memory-hard: N=2^15, r=8 → 32 MiB per hash). Not imported on Workers.
import { scrypt, randomBytes, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { pbkdf2Hasher, type PasswordHasher } from './password';

const run = (pw: string, salt: Buffer, len: number, o: ScryptOptions) =>
  new Promise<Buffer>((resolve, reject) => scrypt(pw, salt, len, o, (err, key) => (err ? reject(err) : resolve(key))));

export function scryptHasher(params: { N: number; r: number; p: number } = { N: 2 ** 15, r: 8, p: 1 }): PasswordHasher {
  const fallback = pbkdf2Hasher();
  return {
    async hash(password) {
      const salt = randomBytes(16);
      const key = await run(password, salt, 32, { ...params, maxmem: 256 * params.N * params.r });
      return `scrypt$${params.N}$${params.r}$${params.p}$${salt.toString('base64')}$${key.toString('base64')}`;
    },
    async verify(password, stored) {
      if (!stored.startsWith('scrypt$')) return fallback.verify(password, stored);
      const [, N, r, p, salt, hash] = stored.split('$');
      const want = Buffer.from(hash ?? '', 'base64');
      const o = { N: Number(N), r: Number(r), p: Number(p) };
      const got = await run(password, Buffer.from(salt ?? '', 'base64'), want.length || 32, { ...o, maxmem: 256 * o.N * o.r });
      return got.length === want.length && timingSafeEqual(got, want);
    },
  };
}
