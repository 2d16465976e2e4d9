// The activation portal in a real browser (playwright-core driving Debian's chromium): sign in, add codes, activate
// by request code and read the key, upload a request file and download the licence file, deactivate. Screenshots
// go to test-artifacts/portal/. Skipped, with a message, when chromium is not installed.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import type { Browser, Page } from 'playwright-core';
import { inProcessHub } from './support/in-process-hub';
import { tempDir } from './support/processes';
import { checkKeyMatchesRequest, hostFingerprint, makeRequestCode, readRequestCode, verifyLicenceFile } from '../shared/licensing';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
const ARTIFACTS = path.resolve('test-artifacts/portal');
if (!haveChromium) console.warn(`portal browser test skipped: ${CHROMIUM} not found (apt-get install -y chromium)`);

describe.skipIf(!haveChromium)('activation portal in a real browser', () => {
  let hub: Awaited<ReturnType<typeof inProcessHub>>;
  let server: ServerType;
  let base: string;
  let browser: Browser;
  let page: Page;
  let codes: string[];
  let web1: { fp: string };
  let work: string;

  /** Text of a locator once it is there (playwright-core has no web-first assertions; this is the wait). */
  const text = async (l: ReturnType<Page['locator']>) => (await l.first().textContent({ timeout: 10_000 })) ?? '';
  const settle = () => page.waitForLoadState('load');
  const shot = (name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    work = await tempDir('portal');
    hub = await inProcessHub();
    base = await new Promise<string>((resolve) => {
      server = serve({ fetch: hub.app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => resolve(`http://127.0.0.1:${info.port}`));
    });
    const issuer = (await hub.call('POST', '/v1/api-tokens', { name: 'vendor', role: 'issuer' })).body.token;
    const org = (await hub.call('POST', '/v1/orgs', { name: 'Acme Corp' }, issuer)).body;
    const issued = (await hub.call('POST', '/v1/licences/issue', { orgId: org.id, type: 'single', edition: 'advanced', count: 3 }, issuer)).body.items;
    const evaluation = (await hub.call('POST', '/v1/licences/issue', { orgId: org.id, type: 'evaluation', edition: 'enterprise', expiresAt: new Date(Date.now() + 20 * 86400_000).toISOString() }, issuer)).body.items;
    codes = [...issued, ...evaluation].map((i: { code: string }) => i.code);
    expect((await hub.call('POST', '/v1/portal-users', { email: 'alice@acme.test', password: 'correct horse battery' }, org.adminToken)).status).toBe(201);
    const tok = (await hub.call('POST', '/v1/agent-tokens', {}, org.adminToken)).body.token;
    const host = { name: 'web1', hostname: 'web1.acme.internal', machineId: 'machine-web1', os: 'Linux', agentVersion: '0.1.0', addresses: ['10.0.0.11'], dataPort: 6325, filesystems: { '/srv': 'ext4' }, certFingerprint: Array.from({ length: 32 }, () => 'AB').join(':') };
    const enrolled = (await hub.call('POST', '/v1/agent/enrol', { configToken: tok, host }, null)).body;
    await hub.call('POST', '/v1/agent/poll', { agentTime: Date.now(), agentVersion: '0.1.0' }, enrolled.credential);
    web1 = { fp: await hostFingerprint(host.machineId, host.hostname) };
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const context = await browser.newContext({ acceptDownloads: true, javaScriptEnabled: false, viewport: { width: 1280, height: 860 } });
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    await hub?.close();
  });

  it('signs in (a wrong password is refused first) with JavaScript disabled', async () => {
    await page.goto(`${base}/portal`);
    expect(new URL(page.url()).pathname).toBe('/portal/login');
    await page.getByLabel('E-mail').fill('alice@acme.test');
    await page.getByLabel('Password').fill('wrong password!');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await settle();
    expect(await text(page.getByRole('alert'))).toMatch(/Wrong e-mail or password/);
    await shot('01-login-refused');
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await settle();
    await page.waitForURL(`${base}/portal/licences`);
    expect(await text(page.getByRole('heading', { level: 1 }))).toMatch('Licences');
    const cookies = await page.context().cookies();
    expect(cookies.find((c) => c.name === 'tandem_portal')).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/portal' });
  });

  it('adds codes, comma- and newline-separated, and shows them with their states and warnings', async () => {
    await page.getByLabel('Licence codes', { exact: true }).fill(`${codes[0]!.toLowerCase()}, ${codes[1]}\n${codes[2]!.replace(/-/g, '')}\n${codes[3]}`);
    await page.getByRole('button', { name: 'Add codes' }).click();
    await settle();
    expect(await text(page.getByRole('status'))).toMatch(/Added 4 codes/);
    const rows = page.locator('table tbody tr');
    await settle();
    expect(await rows.count()).toBe(4);
    expect(await text(page.locator('table'))).toMatch('Evaluation, expires');
    expect(await text(page.locator('table'))).toMatch(/Expires in 2\d days/);
    // A mistyped code is caught with a specific error and nothing is added.
    const typo = codes[0]!.replace(/^./, (ch) => (ch === 'A' ? 'B' : 'A'));
    await page.getByLabel('Licence codes', { exact: true }).fill(typo);
    await page.getByRole('button', { name: 'Add codes' }).click();
    await settle();
    expect(await text(page.getByRole('alert'))).toMatch('code_typo');
    await settle();
    expect(await rows.count()).toBe(4);
    await page.goto(`${base}/portal/licences`);
    await shot('02-licences');
  });

  it('activates a host by its request code and shows the 24-character activation key', async () => {
    const requestCode = makeRequestCode(web1.fp);
    await page.getByRole('link', { name: 'Activate a host' }).click();
    await page.getByLabel('Licence code', { exact: true }).first().fill(codes[0]!);
    await page.getByLabel('Activation request code').fill(requestCode.match(/.{4}/g)!.join('-'));
    await shot('03-activate-form');
    await page.getByRole('button', { name: 'Get activation key' }).click();
    await settle();
    const key = (await page.getByTestId('activation-key').textContent())!;
    expect(key).toMatch(/^([0-9A-Z]{4}-){5}[0-9A-Z]{4}$/);
    expect(await text(page.getByRole('status'))).toMatch('activated for web1.acme.internal');
    expect((await checkKeyMatchesRequest(key, readRequestCode(requestCode))).serial).toBeGreaterThan(0);
    await shot('04-activation-key');
    // The same request code again is a replay.
    await page.goto(`${base}/portal/activate`);
    await page.getByLabel('Licence code', { exact: true }).first().fill(codes[0]!);
    await page.getByLabel('Activation request code').fill(requestCode);
    await page.getByRole('button', { name: 'Get activation key' }).click();
    await settle();
    expect(await text(page.getByRole('alert'))).toMatch('activation_request_replayed');
  });

  it('uploads an offline request file and downloads a licence file that verifies with the hub key', async () => {
    const fp = await hostFingerprint('vault-machine', 'vault01');
    const reqPath = path.join(work, 'request.json');
    await writeFile(reqPath, JSON.stringify({
      kind: 'tandem-activation-request', v: 1, requestCode: makeRequestCode(fp), hostname: 'vault01', serverId: null,
      agentVersion: '0.1.0', createdAt: new Date().toISOString(), codes: [codes[1]],
    }));
    await page.goto(`${base}/portal/activate`);
    await page.getByLabel('Activation request file').setInputFiles(reqPath);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download licence file' }).click()]);
    expect(download.suggestedFilename()).toMatch(/^tandem-TL-\w+-vault01\.lic$/);
    const saved = path.join(work, download.suggestedFilename());
    await download.saveAs(saved);
    const claims = await verifyLicenceFile(await readFile(saved, 'utf8'), hub.deps.keys.publicJwks(), { now: Date.now(), hostFingerprint: fp });
    expect(claims).toMatchObject({ hostname: 'vault01', edition: 'advanced', type: 'single' });
  });

  it('lists hosts with last seen, then deactivates a host\'s licence', async () => {
    await page.getByRole('link', { name: 'Hosts' }).click();
    expect(await text(page.locator('table'))).toMatch('web1');
    expect(await text(page.locator('table'))).toMatch('vault01');
    expect(await text(page.locator('table'))).toMatch('UTC');
    await shot('05-hosts');
    await page.getByRole('link', { name: 'Licences' }).click();
    await page.getByRole('button', { name: /^Deactivate TL-\w+ on web1$/ }).click();
    expect(await text(page.getByRole('status'))).toMatch(/Deactivated TL-\w+ on web1/);
    expect(await text(page.locator('table'))).not.toMatch('web1');
    await shot('06-deactivated');
  });
});
