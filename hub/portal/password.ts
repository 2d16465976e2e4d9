// Portal password hashing behind an injected interface: Node injects scrypt (memory-hard, password-node.ts); Workers
// fall back to WebCrypto PBKDF2-SHA256. Stored strings name their scheme, so either runtime can verify its own.
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(password: string, stored: string): Promise<boolean>;
}

const te = new TextEncoder();
export const b64 = (u: Uint8Array) => btoa(String.fromCharCode(...u));
export const unb64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

/** Constant-time comparison of two byte strings. */
export function timingSafeEqualBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

async function pbkdf2(password: string, salt: Uint8Array<ArrayBuffer>, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey('raw', te.encode(password), 'PBKDF2', false, ['deriveBits']);
  return new Uint8Array(await crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt, iterations }, key, 256));
}

/** The Workers fallback: PBKDF2-SHA256 at OWASP's 600 000 iterations. */
export function pbkdf2Hasher(iterations = 600_000): PasswordHasher {
  return {
    async hash(password) {
      const salt = crypto.getRandomValues(new Uint8Array(16));
      return `pbkdf2-sha256$${iterations}$${b64(salt)}$${b64(await pbkdf2(password, salt, iterations))}`;
    },
    async verify(password, stored) {
      const [scheme, iter, salt, hash] = stored.split('$');
      if (scheme !== 'pbkdf2-sha256' || !iter || !salt || !hash) return false;
      return timingSafeEqualBytes(await pbkdf2(password, unb64(salt), Number(iter)), unb64(hash));
    },
  };
}

/** Passwords shorter than this are refused when a portal user is created. */
export const MIN_PASSWORD_LENGTH = 10;
