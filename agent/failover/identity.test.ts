import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFakeBin, type FakeBin } from './testing/fake-bin';
import { classifyIpFailure, moveAddressesIn, redactUrl, releaseAddresses, runDnsHook } from './identity';

// Never the real `ip`: the runner's PATH holds only the fake directory.
let bin: FakeBin;
beforeEach(async () => { bin = await createFakeBin(); });
afterEach(() => bin.cleanup());

const A = { cidr: '10.9.8.7/24', device: 'eth9' };
const B = { cidr: '10.9.8.8/24', device: 'eth9' };

describe('moveAddressesIn', () => {
  it('adds each address to its device and announces it with gratuitous ARP', async () => {
    await bin.add('ip');
    await bin.add('arping');
    const r = await moveAddressesIn([A, B], { runCommand: bin.runner() });
    expect(r).toMatchObject({ step: 'identity.moveAddresses', ok: true });
    expect(r.detail).toContain('Added 10.9.8.7/24 to eth9.');
    expect(r.detail).toContain('Announced 10.9.8.7, 10.9.8.8 with gratuitous ARP.');
    const calls = await bin.calls();
    expect(calls.slice(0, 2)).toEqual(['ip addr add 10.9.8.7/24 dev eth9', 'ip addr add 10.9.8.8/24 dev eth9']);
    expect(calls.slice(2).sort()).toEqual(['arping -U -c 3 -I eth9 10.9.8.7', 'arping -U -c 3 -I eth9 10.9.8.8']);
  });

  it('treats an address that is already present as moved (idempotent)', async () => {
    await bin.add('ip', 'echo "RTNETLINK answers: File exists" >&2; exit 2');
    await bin.add('arping');
    const r = await moveAddressesIn([A], { runCommand: bin.runner() });
    expect(r.ok).toBe(true);
    expect(r.detail).toContain('10.9.8.7/24 was already on eth9');
    expect(await bin.calls()).toContain('arping -U -c 3 -I eth9 10.9.8.7');
  });

  it('still succeeds without arping, saying that no gratuitous ARP was sent', async () => {
    await bin.add('ip');
    const r = await moveAddressesIn([A], { runCommand: bin.runner() });
    expect(r.ok).toBe(true);
    expect(r.detail).toContain('arping is not installed (package iputils-arping)');
  });

  it('sends no ARP for IPv6 addresses and says how neighbours learn them', async () => {
    await bin.add('ip');
    await bin.add('arping');
    const r = await moveAddressesIn([{ cidr: 'fd00::5/64', device: 'eth9' }], { runCommand: bin.runner() });
    expect(r.ok).toBe(true);
    expect(r.detail).toContain('IPv6');
    expect(await bin.calls()).toEqual(['ip addr add fd00::5/64 dev eth9']);
  });

  it('gives the fix when the agent may not change addresses, and stops trying', async () => {
    await bin.add('ip', 'echo "RTNETLINK answers: Operation not permitted" >&2; exit 2');
    const r = await moveAddressesIn([A, B], { runCommand: bin.runner() });
    expect(r.ok).toBe(false);
    expect(r.detail).toContain('CAP_NET_ADMIN');
    expect(r.detail).toContain('post-failover script');
    expect(r.output).toContain('Operation not permitted');
    expect(await bin.calls()).toEqual(['ip addr add 10.9.8.7/24 dev eth9']);
  });

  it('gives the fix when ip is not installed', async () => {
    const r = await moveAddressesIn([A], { runCommand: bin.runner() });
    expect(r.ok).toBe(false);
    expect(r.detail).toContain('iproute2');
  });

  it('names a device that does not exist and still moves the other addresses', async () => {
    await bin.add('ip', 'if [ "$5" = eth7 ]; then echo \'Cannot find device "eth7"\' >&2; exit 1; fi');
    await bin.add('arping');
    const r = await moveAddressesIn([{ cidr: '10.1.1.1/24', device: 'eth7' }, A], { runCommand: bin.runner() });
    expect(r.ok).toBe(false);
    expect(r.detail).toContain('device eth7 does not exist on this host');
    expect(r.detail).toContain('Added 10.9.8.7/24 to eth9');
  });

  it('refuses a malformed address without running ip', async () => {
    await bin.add('ip');
    const r = await moveAddressesIn([{ cidr: '10.0.0.1/24 dev lo; reboot', device: 'eth0' }], { runCommand: bin.runner() });
    expect(r.ok).toBe(false);
    expect(await bin.calls()).toEqual([]);
  });

  it('skips when no addresses are configured', async () => {
    expect(await moveAddressesIn([], { runCommand: bin.runner() })).toMatchObject({ ok: true, skipped: true });
  });
});

describe('releaseAddresses', () => {
  it('removes each address from its device', async () => {
    await bin.add('ip');
    const r = await releaseAddresses([A, B], { runCommand: bin.runner() });
    expect(r).toMatchObject({ step: 'identity.releaseAddresses', ok: true });
    expect(await bin.calls()).toEqual(['ip addr del 10.9.8.7/24 dev eth9', 'ip addr del 10.9.8.8/24 dev eth9']);
  });

  it('treats an address that is already gone as released', async () => {
    await bin.add('ip', 'echo "RTNETLINK answers: Cannot assign requested address" >&2; exit 2');
    const r = await releaseAddresses([A], { runCommand: bin.runner() });
    expect(r.ok).toBe(true);
    expect(r.detail).toContain('10.9.8.7/24 was not on eth9');
  });

  it('gives the fix when not permitted', async () => {
    await bin.add('ip', 'echo "RTNETLINK answers: Operation not permitted" >&2; exit 2');
    const r = await releaseAddresses([A], { runCommand: bin.runner() });
    expect(r.ok).toBe(false);
    expect(r.detail).toContain('pre-failback script');
  });
});

describe('classifyIpFailure', () => {
  it('recognises iproute2 messages', () => {
    const f = (stderr: string) => classifyIpFailure({ code: 2, stdout: '', stderr });
    expect(f('RTNETLINK answers: File exists')).toBe('exists');
    expect(f('RTNETLINK answers: Cannot assign requested address')).toBe('absent');
    expect(f('Cannot find device "eth7"')).toBe('no_device');
    expect(f('RTNETLINK answers: Operation not permitted')).toBe('not_permitted');
    expect(f('something else')).toBe('other');
    expect(classifyIpFailure({ code: 127, stdout: '', stderr: '', missing: true })).toBe('missing');
  });
});

describe('runDnsHook', () => {
  let server: Server;
  let url: string;
  let received: { body: unknown; headers: IncomingMessage['headers'] }[];
  let respond: (res: import('node:http').ServerResponse) => void;

  beforeEach(async () => {
    received = [];
    respond = (res) => { res.writeHead(200, { 'content-type': 'application/json' }).end('{"updated":true}'); };
    server = createServer((req, res) => {
      let text = '';
      req.on('data', (c) => { text += c; });
      req.on('end', () => { received.push({ body: JSON.parse(text), headers: req.headers }); respond(res); });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dns/update`;
  });
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('POSTs the payload with the TTL as JSON and reports success', async () => {
    const r = await runDnsHook({ url, ttlSec: 120 }, { event: 'failover', jobId: 'j1', addresses: ['10.9.8.7'] });
    expect(r).toMatchObject({ step: 'identity.dnsHook', ok: true, output: '{"updated":true}' });
    expect(r.detail).toContain('HTTP 200');
    expect(received).toHaveLength(1);
    expect(received[0]!.body).toEqual({ event: 'failover', jobId: 'j1', addresses: ['10.9.8.7'], ttlSec: 120 });
    expect(received[0]!.headers['content-type']).toBe('application/json');
  });

  it('fails on a non-2xx answer without showing the secret in the URL', async () => {
    respond = (res) => { res.writeHead(503).end('provider down'); };
    const r = await runDnsHook({ url: `${url}?apiKey=s3cret`, ttlSec: 300 }, { event: 'failback' });
    expect(r.ok).toBe(false);
    expect(r.detail).toContain('HTTP 503');
    expect(r.detail).not.toContain('s3cret');
    expect(r.output).toBe('provider down');
  });

  it('fails at the timeout when the hook does not answer', async () => {
    respond = () => { /* never answers */ };
    const started = Date.now();
    const r = await runDnsHook({ url, ttlSec: 300 }, { event: 'failover' }, { timeoutMs: 300 });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(r.ok).toBe(false);
    expect(r.detail).toContain('did not answer within 0.3 s');
  });

  it('fails clearly when nothing listens at the URL', async () => {
    const closed = url;
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const r = await runDnsHook({ url: closed, ttlSec: 300 }, {});
    expect(r.ok).toBe(false);
    expect(r.detail).toContain('could not be reached');
  });

  it('redactUrl drops credentials, query and fragment', () => {
    expect(redactUrl('https://user:pw@dns.example.com:8443/api/v1?token=x#f')).toBe('https://dns.example.com:8443/api/v1');
  });
});
