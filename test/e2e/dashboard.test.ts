/**
 * The dashboard in a real headless Chromium (Debian's, driven by playwright-core), against real gateways: the
 * domains are listed, a client refused by real curl appears with the doctor's explanation, a CA expiring in 10
 * days is drawn in the warning colour, a subject holding markup stays text, and the reload button exists only with
 * admin.token and reloads with it. Screenshots go to test-artifacts/ (git-ignored).
 *
 * Without /usr/bin/chromium the test fails, naming scripts/setup.sh: like curl and openssl, the browser is part of
 * what the suite needs (setup.sh installs it), not an optional peer such as nginx, whose test skips.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { escapeDnValue, issue } from '../../src/pki/generate.js';
import { REPO } from '../helpers/build.js';
import { domainConfig, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import {
  serverIdentity,
  tmpDir,
  writeClient,
  writeTruststore,
  type ClientFiles,
  type ServerIdentity,
} from '../helpers/pki.js';
import { curl } from '../helpers/proc.js';

// What the functions run in the page use of the browser (tests are type-checked without the DOM's types).
declare const getComputedStyle: (e: unknown) => { color: string; backgroundColor: string };
declare const window: { __xss?: number };
declare const document: { querySelector: (s: string) => { textContent: string | null } | null };

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(REPO, 'test-artifacts');
const DOMAIN = 'dash.e2e.test';
const TOKEN = 'dashboard-e2e-token-0123456789';
const DAY = 86_400_000;
/** Markup in certificate subjects: it must be shown, never run. */
const XSS_CA = '<script>window.__xss = 1</script>Evil CA';
const XSS_CLIENT = '<img src=x onerror="window.__xss = 2">evil client';

let server: ServerIdentity;
let refused: ClientFiles;
let open: GatewayProcess;
let guarded: GatewayProcess;
let browser: Browser;

before(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `the dashboard test needs Debian's chromium at ${CHROMIUM}: run scripts/setup.sh as root ` +
        '(it apt-get installs chromium), or apt-get install chromium',
    );
  mkdirSync(ARTIFACTS, { recursive: true });
  const dir = tmpDir();
  server = await serverIdentity(dir, [DOMAIN]);
  const [soon, later, evil, expired] = await Promise.all([
    issue({
      subject: 'CN=Dashboard Soon CA,O=mtlsgate e2e',
      profile: 'root-ca',
      notAfter: new Date(Date.now() + 10 * DAY),
    }),
    issue({
      subject: 'CN=Dashboard Later CA,O=mtlsgate e2e',
      profile: 'root-ca',
      notAfter: new Date(Date.now() + 5 * 365 * DAY),
    }),
    issue({ subject: `CN=${escapeDnValue(XSS_CA)}`, profile: 'root-ca' }),
    issue({
      subject: 'CN=Dashboard Expired CA,O=mtlsgate e2e',
      profile: 'root-ca',
      notBefore: new Date(Date.now() - 400 * DAY),
      notAfter: new Date(Date.now() - 3 * DAY),
    }),
  ]);
  refused = writeClient(dir, 'evil', await issue({ subject: `CN=${escapeDnValue(XSS_CLIENT)}`, profile: 'client' }));
  const truststore = writeTruststore(dir, 'truststore', [later, soon, evil, expired]);
  const domains = [domainConfig(DOMAIN, server, truststore, [{ basePath: 'orders', target: 'http://127.0.0.1:9' }])];
  [open, guarded] = await Promise.all([
    startGateway({ config: { domains }, dir }),
    startGateway({ config: { admin: { host: '127.0.0.1', port: 0, token: TOKEN }, domains } }),
  ]);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    // No sandbox as root; no network but the admin listener on this closed machine.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

after(async () => {
  await browser?.close();
  await Promise.all([open?.stop(), guarded?.stop()]);
});

/** A page that records what the browser complains about (a CSP violation is a console error). */
async function dashboard(gw: GatewayProcess): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems: string[] = [];
  page.on('console', (m) => void (m.type() === 'error' && problems.push(m.text())));
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(`http://127.0.0.1:${gw.adminPort}/ui`);
  return { page, problems };
}

const WAIT = { timeout: 20_000 };
const style = (page: Page, selector: string, prop: 'color' | 'backgroundColor'): Promise<string> =>
  page
    .locator(selector)
    .first()
    .evaluate((e, p) => getComputedStyle(e)[p], prop);

test('read-only: domains, the expiry timeline in colour, a refused curl explained, markup shown as text', async () => {
  const { page, problems } = await dashboard(open);
  const row = page.locator(`#domains tr[data-domain="${DOMAIN}"]`);
  await row.waitFor(WAIT);
  assert.match(await row.innerText(), /\/orders/);
  assert.match(await row.innerText(), /4 certificates/);

  // The timeline: the CA expiring in 10 days in amber, the expired one in red, the one in 5 years in green.
  const soon = page.locator('#timeline li', { hasText: 'Dashboard Soon CA' });
  assert.match((await soon.getAttribute('class')) ?? '', /\bexpiry-expires-soon\b/);
  assert.match(await soon.innerText(), /in 9 days/);
  const soonSel = '#timeline li.expiry-expires-soon';
  assert.equal(await style(page, `${soonSel} .bar`, 'backgroundColor'), 'rgb(245, 158, 11)', 'warning amber bar');
  assert.equal(await style(page, `${soonSel} .label`, 'color'), 'rgb(180, 83, 9)', 'warning amber text');
  const expired = page.locator('#timeline li', { hasText: 'Dashboard Expired CA' });
  assert.match((await expired.getAttribute('class')) ?? '', /\bexpiry-expired\b/);
  assert.match(await expired.innerText(), /3 days ago/);
  assert.equal(await style(page, '#timeline li.expiry-expired .label', 'color'), 'rgb(185, 28, 28)', 'error red text');
  assert.match(await expired.locator('.tag').first().innerText(), /^truststore\.expired$/, 'its lint warning');
  const later = page.locator('#timeline li', { hasText: 'Dashboard Later CA' });
  assert.match((await later.getAttribute('class')) ?? '', /\bexpiry-valid\b/);
  assert.equal(
    await later.locator('.bar').evaluate((e) => getComputedStyle(e).backgroundColor),
    'rgb(22, 163, 74)',
    'valid green',
  );
  // No token configured: read-only, no reload button, no token form.
  assert.equal(await page.locator('#reload').isVisible(), false);
  assert.equal(await page.locator('#token-form').isVisible(), false);
  assert.match(await page.locator('#mode').innerText(), /read-only/);
  assert.equal(await page.locator('#denials li').count(), 0);
  assert.equal(await page.locator('#routes-empty').isVisible(), true, 'no request answered yet');

  const c = await curl({
    domain: DOMAIN,
    port: open.port,
    cacert: server.caFile,
    cert: refused.certFile,
    key: refused.keyFile,
    path: '/orders/1',
  });
  assert.equal(c.response?.status, 403, c.stderr);
  const denial = page.locator('#denials li.denial').first();
  await denial.waitFor(WAIT);
  assert.equal(await denial.locator('.reason').innerText(), 'self-signed certificate');
  assert.equal(
    await denial.locator('.explanation-title .text').innerText(),
    'the client certificate is self-signed and is not in the truststore',
  );
  assert.equal(await denial.locator('.explanation-title .tag').innerText(), 'chain.self-signed-untrusted');
  assert.match(await denial.locator('pre.fix').innerText(), /^cat client\.crt >> \S+truststore\.pem/);
  assert.match(await denial.innerText(), /route \/orders/);

  // The refusal is counted on its route: a 4xx in the routes table, read from /metrics.
  const routeRow = page.locator(`#routes tr[data-domain="${DOMAIN}"][data-route="/orders"]`);
  await routeRow.waitFor(WAIT);
  await page.waitForFunction(
    (sel) => document.querySelector(`${sel} td:nth-child(5)`)?.textContent === '1',
    `#routes tr[data-domain="${DOMAIN}"][data-route="/orders"]`,
    WAIT,
  );
  assert.deepEqual(await routeRow.locator('td').allInnerTexts(), [DOMAIN, '/orders', '0', '0', '1', '0', '1']);
  assert.equal(await page.locator('#routes-empty').isVisible(), false);

  // Markup from certificates is text: visible as written, never run, never parsed into elements.
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  assert.equal(await page.locator('#timeline li', { hasText: 'Evil CA' }).locator('.label').innerText(), XSS_CA);
  assert.equal(await denial.locator('.subject').innerText(), `CN=${escapeDnValue(XSS_CLIENT)}`);
  assert.equal(await page.locator('main img, main script').count(), 0);

  await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });
  assert.deepEqual(problems, [], 'no console error, no CSP violation');
  await page.close();
});

test('with admin.token: the page asks for it, then shows the data and a reload button that reloads', async () => {
  const { page, problems } = await dashboard(guarded);
  const form = page.locator('#token-form');
  await form.waitFor({ state: 'visible', ...WAIT });
  assert.equal(await page.locator('#reload').isVisible(), false, 'no reload button without the token');
  assert.equal(await page.locator('#domains tbody tr').count(), 0, 'no data without the token');

  await page.fill('#token-input', 'a-wrong-token-0123456789');
  await page.click('#token-form button[type=submit]');
  await page.locator('#error', { hasText: 'token was refused' }).waitFor(WAIT);
  await form.waitFor({ state: 'visible', ...WAIT });

  await page.fill('#token-input', TOKEN);
  await page.click('#token-form button[type=submit]');
  await page.locator(`#domains tr[data-domain="${DOMAIN}"]`).waitFor(WAIT);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('mtlsgate.adminToken')), TOKEN);
  const reload = page.locator('#reload');
  await reload.waitFor({ state: 'visible', ...WAIT });

  const mark = guarded.mark();
  await reload.click();
  await page.locator('#reload-result', { hasText: ': ok' }).waitFor(WAIT);
  await guarded.waitForLog((l) => l.msg === 'truststore loaded' && l.domain === DOMAIN, { from: mark });
  // The reload shows in the domain's row once the page polls again.
  await page.locator(`#domains tr[data-domain="${DOMAIN}"]`, { hasText: 'ok at' }).waitFor(WAIT);
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-token.png'), fullPage: true });

  await page.click('#forget');
  await form.waitFor({ state: 'visible', ...WAIT });
  assert.equal(await reload.isVisible(), false);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('mtlsgate.adminToken')), null);
  // The refused token's 401 is the only console error.
  assert.ok(
    problems.every((p) => /401/.test(p)),
    problems.join('\n'),
  );
  await page.close();
});
