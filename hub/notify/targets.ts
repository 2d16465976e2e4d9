// Which webhook URLs a hub may call: http(s) only, and on a multi-tenant hub no private, loopback or link-local
// targets (SSRF) unless the operator allow-listed them. Pure: checks the URL's literal host.
import type { TargetPolicy } from './types';

function ipv4ToInt(ip: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return null;
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

function inCidr(ip: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split('/');
  const a = ipv4ToInt(ip);
  const b = ipv4ToInt(base ?? '');
  if (a == null || b == null) return false;
  const bits = bitsText === undefined ? 32 : Number(bitsText);
  if (!(bits >= 0 && bits <= 32)) return false;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return ((a & mask) >>> 0) === ((b & mask) >>> 0);
}

const PRIVATE_V4 = ['0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12', '192.168.0.0/16', '198.18.0.0/15', '224.0.0.0/4', '240.0.0.0/4'];

/** True for loopback, private, link-local, CGNAT, multicast and reserved addresses and for local names. */
export function isPrivateHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
  if (h === 'localhost' || h.endsWith('.localhost') || h.endsWith('.local') || h.endsWith('.internal')) return true;
  if (ipv4ToInt(h) != null) return PRIVATE_V4.some((c) => inCidr(h, c));
  if (h.includes(':')) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
    if (mapped) return isPrivateHost(mapped[1]!);
    return h === '::' || h === '::1' || /^f[cd]/.test(h) || /^fe[89ab]/.test(h) || /^ff/.test(h) || /^::ffff:/.test(h);
  }
  // A bare word (no dot) resolves through local search domains.
  return !h.includes('.');
}

function allowListed(host: string, allow: string[]): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return allow.some((a) => {
    const entry = a.trim().toLowerCase();
    if (!entry) return false;
    if (entry.includes('/')) return inCidr(h, entry);
    return entry === h;
  });
}

/** Null when the URL may be called, otherwise a message saying why not and what to do. */
export function checkWebhookUrl(raw: string, policy: TargetPolicy): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return `"${raw.slice(0, 200)}" is not a valid URL.`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `Webhook URLs must use http or https, not ${url.protocol.replace(':', '')}.`;
  if (url.username || url.password) return 'Put credentials in the webhook secret, not in the URL.';
  if (policy.multiTenant && isPrivateHost(url.hostname) && !allowListed(url.hostname, policy.allow)) {
    return `This hub is multi-tenant and does not call private, loopback or local addresses (${url.hostname}). Use a public address, or ask the operator to allow-list it.`;
  }
  return null;
}
