import { describe, expect, it } from 'vitest';
import { checkWebhookUrl, isPrivateHost } from './targets';

const multi = { multiTenant: true, allow: [] };
const self = { multiTenant: false, allow: [] };

describe('webhook targets', () => {
  it('only http and https URLs, without credentials', () => {
    expect(checkWebhookUrl('ftp://example.com/x', self)).toMatch(/http or https/);
    expect(checkWebhookUrl('javascript:alert(1)', self)).toMatch(/http or https/);
    expect(checkWebhookUrl('not a url', self)).toMatch(/not a valid URL/);
    expect(checkWebhookUrl('https://u:p@example.com/', self)).toMatch(/credentials/);
    expect(checkWebhookUrl('https://example.com/hook', multi)).toBeNull();
  });
  it('a self-hosted hub may call loopback and private addresses', () => {
    expect(checkWebhookUrl('http://127.0.0.1:8080/hook', self)).toBeNull();
    expect(checkWebhookUrl('http://10.1.2.3/hook', self)).toBeNull();
  });
  it('a multi-tenant hub refuses private, loopback, link-local and local names unless allow-listed', () => {
    for (const u of ['http://127.0.0.1/', 'http://localhost:9/', 'http://10.0.0.5/', 'http://192.168.1.1/', 'http://169.254.169.254/latest',
      'http://[::1]/', 'http://[fd00::1]/', 'http://[::ffff:127.0.0.1]/', 'http://metadata.google.internal/', 'http://intranet/']) {
      expect(checkWebhookUrl(u, multi), u).toMatch(/multi-tenant/);
    }
    expect(checkWebhookUrl('http://10.0.0.5/', { multiTenant: true, allow: ['10.0.0.0/24'] })).toBeNull();
    expect(checkWebhookUrl('http://alerts.lan.example/', { multiTenant: true, allow: [] })).toBeNull();
    expect(checkWebhookUrl('http://localhost/', { multiTenant: true, allow: ['localhost'] })).toBeNull();
  });
  it('classifies public addresses as public', () => {
    expect(isPrivateHost('8.8.8.8')).toBe(false);
    expect(isPrivateHost('172.32.0.1')).toBe(false);
    expect(isPrivateHost('172.31.0.1')).toBe(true);
    expect(isPrivateHost('2606:4700::1111')).toBe(false);
  });
});
