// Browser tests of the chat widget in headless Debian Chromium (playwright-core), against the
// real `omnidesk serve` (which serves dist/widget.js and dist/widget/*) and a fake Telegram
// Bot API written here. The widget is embedded with its one tag in a host page served from a
// second origin (another port on 127.0.0.1), as on a customer's website; a third origin that
// is not on the website's list must get no session; the same host also serves a page with a
// strict Content-Security-Policy of its own (/strict), where the widget must work unchanged. Every
// page of every browser context is watched for CSP violations (e2e/csp.mjs of the dashboard), and
// any fails the run. Every server listens on 127.0.0.1 and is stopped on exit. Screenshots go to
// test-results/.
//
// env: OMNIDESK_BIN (default <repo>/target/debug/omnidesk), CHROMIUM (default /usr/bin/chromium),
//      OMNIDESK_WIDGET_DIR (passed to the server; default <widget>/dist)

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, createWriteStream } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { cspReport, watchCsp } from '../../dashboard/e2e/csp.mjs';
import { makePng } from '../../dashboard/e2e/png.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const widget = resolve(here, '..');
const repo = resolve(widget, '../..');
const bin = process.env.OMNIDESK_BIN ?? join(repo, 'target/debug/omnidesk');
const results = join(widget, 'test-results');
mkdirSync(results, { recursive: true });

const BOT_TOKEN = '777000222:AAtestTokenForTheFakeBotApi_widget01';
const BOT_ID = '777000222';
const BOT_USERNAME = 'shop_bot';
const WEBHOOK_SECRET = 'e2e-webhook-secret';
const JWT_SECRET = 'e2e-jwt-secret-0123456789-abcdefghijklmnop';
const EMAIL = 'ann@example.com';
const PASSWORD = 'correct horse battery';
const FIRST = 'Order #1024 has no tracking update';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------- fake Telegram Bot API ----------
const sends = [];
let nextMessageId = 1000;
const fakeTelegram = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    const m = /^\/bot([^/]+)\/(\w+)$/.exec(req.url ?? '');
    const reply = (o) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(o));
    };
    if (!m || m[1] !== BOT_TOKEN) {
      res.writeHead(404, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ ok: false, error_code: 404, description: 'Not Found' }));
    }
    let params = {};
    try {
      params = body ? JSON.parse(body) : {};
    } catch {
      params = {};
    }
    const method = m[2];
    if (method === 'getMe') return reply({ ok: true, result: { id: Number(BOT_ID), is_bot: true, first_name: 'Shop', username: BOT_USERNAME } });
    if (method === 'sendMessage') {
      sends.push(params);
      return reply({ ok: true, result: { message_id: nextMessageId++, date: Math.floor(Date.now() / 1000), chat: { id: params.chat_id, type: 'private' }, text: params.text } });
    }
    return reply({ ok: true, result: true });
  });
});

// ---------- host pages (the customer's website, on other origins) ----------
let omnideskPort;
let websiteId;
const hostPage = (lang) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Shop</title>
<style>body{font:18px/1.6 Georgia,serif;margin:40px;color:#333} button{background:hotpink!important;font-size:40px!important}</style>
</head><body><h1>A shop</h1><p>Products, prices and a chat bubble.</p>
<script src="http://127.0.0.1:${omnideskPort}/widget.js" data-website="${websiteId}"${lang ? ` data-lang="${lang}"` : ''} async></script>
</body></html>`;
/**
 * A customer's strict CSP: scripts, API calls, the socket and pictures only from the site and
 * the omnidesk origin, styles only from the site's own files. No 'unsafe-inline' anywhere: a
 * <style> element or a style="" attribute the widget added would be refused.
 */
const strictCsp = () => {
  const omnidesk = `http://127.0.0.1:${omnideskPort}`;
  return `default-src 'self'; script-src 'self' ${omnidesk}; style-src 'self'; connect-src 'self' ${omnidesk} ws://127.0.0.1:${omnideskPort}; img-src 'self' data: ${omnidesk}`;
};
// The same hostile host styles as hostPage, from a file (the strict page allows no inline style).
const SHOP_CSS = 'body{font:18px/1.6 Georgia,serif;margin:40px;color:#333} button{background:hotpink!important;font-size:40px!important}';
const strictPage = () => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Strict shop</title>
<link rel="stylesheet" href="/shop.css">
</head><body><h1>A shop with a strict CSP</h1><p>No inline script or style is allowed here.</p>
<script src="http://127.0.0.1:${omnideskPort}/widget.js" data-website="${websiteId}" async></script>
</body></html>`;
const hostServer = () =>
  createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    if (u.pathname === '/shop.css') {
      res.writeHead(200, { 'content-type': 'text/css; charset=utf-8' });
      return res.end(SHOP_CSS);
    }
    if (u.pathname === '/strict') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': strictCsp() });
      return res.end(strictPage());
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(hostPage(u.searchParams.get('lang')));
  });
const allowedHost = hostServer();
const refusedHost = hostServer();

function listen(server) {
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server.address().port)));
}

async function freePort() {
  const s = createServer();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  return port;
}

// ---------- omnidesk ----------
const dataDir = mkdtempSync(join(tmpdir(), 'omnidesk-widget-e2e-'));
let env;
let server = null;
let serverLog;

// Async: `bot add` calls getMe on the fake Telegram served by this very process.
function admin(args) {
  return new Promise((resolveRun, reject) => {
    const child = spawn(bin, args, { env });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolveRun(out) : reject(new Error(`omnidesk ${args.join(' ')} failed: ${err}`)),
    );
  });
}

async function startServer() {
  server = spawn(bin, ['serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout.pipe(serverLog, { end: false });
  server.stderr.pipe(serverLog, { end: false });
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`omnidesk serve exited with ${server.exitCode}; see ${join(results, 'omnidesk.log')}`);
    try {
      const r = await fetch(`http://127.0.0.1:${omnideskPort}/healthz`);
      if (r.ok) return;
    } catch {
      /* not yet */
    }
    await sleep(50);
  }
  throw new Error('omnidesk serve did not become healthy in 20 s');
}

async function stopServer() {
  if (!server || server.exitCode !== null) return;
  const s = server;
  const exited = new Promise((r) => s.once('exit', r));
  s.kill('SIGTERM');
  const t = setTimeout(() => s.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

// ---------- agent API ----------
let agentToken = null;
async function agentApi(method, path, body) {
  if (!agentToken) {
    const r = await fetch(`http://127.0.0.1:${omnideskPort}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: EMAIL, password: PASSWORD }),
    });
    if (!r.ok) throw new Error(`login answered ${r.status}: ${await r.text()}`);
    agentToken = (await r.json()).token;
  }
  const r = await fetch(`http://127.0.0.1:${omnideskPort}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${agentToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path} answered ${r.status}: ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Why the widget upload endpoint looks absent, or null (it asks for a session: 401/400). */
async function uploadsMissing() {
  const r = await fetch(`http://127.0.0.1:${omnideskPort}/web/v1/files`, { method: 'POST', headers: { origin: 'http://127.0.0.1' } });
  return r.status === 404 || r.status === 405 ? `it answered ${r.status}` : null;
}

async function webConversationId() {
  const page = await agentApi('GET', '/conversations?status=all&limit=100');
  const c =
    page.items.find((x) => (x.last_message?.text ?? '').includes('Order #1024')) ??
    page.items.find((x) => x.channel === 'web' || (x.channel_path ?? []).includes('web'));
  return c?.id ?? null;
}

// ---------- tiny test runner ----------
const outcomes = [];
/** The test running now: a CSP violation is reported with it. */
let currentTest = 'setup';
async function test(name, fn) {
  const started = Date.now();
  currentTest = name;
  try {
    await fn();
    outcomes.push({ name, ok: true });
    console.log(`ok   - ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    outcomes.push({ name, ok: false });
    console.log(`FAIL - ${name} (${Date.now() - started} ms)\n       ${(e && e.stack) || e}`);
    if (page) await page.screenshot({ path: join(results, `failure-${outcomes.length}.png`) }).catch(() => {});
  }
}
function skip(name, why) {
  outcomes.push({ name, ok: true, skipped: true });
  console.log(`skip - ${name}\n       SKIPPED: ${why}`);
}
function assert(cond, msg) {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}
async function waitFor(fn, ms, what) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await sleep(20);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${last})`);
}

let browser;
let page;
const pageErrors = [];
/** What the browser refused under a Content-Security-Policy, in any context: `{who, during, what}`. */
const cspViolations = [];
/** Records the CSP violations of the context's pages (call before its first page). */
const watchContext = (context, who) => watchCsp(context, (what) => cspViolations.push({ who, during: currentTest, what }));

const withTimeout = (p, ms) => Promise.race([p, sleep(ms)]);
async function cleanup() {
  await withTimeout(browser?.close().catch(() => {}), 5000);
  await withTimeout(stopServer().catch(() => {}), 7000);
  for (const s of [fakeTelegram, allowedHost, refusedHost]) {
    s.closeAllConnections?.();
    s.close();
  }
  rmSync(dataDir, { recursive: true, force: true });
}
// A hung step must not hang CI: the whole run has a hard limit.
const watchdog = setTimeout(() => {
  console.log('FAIL - the widget browser tests did not finish within 240 s');
  if (server && server.exitCode === null) server.kill('SIGKILL');
  process.exit(1);
}, 240_000);
watchdog.unref();
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (server && server.exitCode === null) server.kill('SIGKILL');
    process.exit(130);
  });
}
process.on('exit', () => {
  if (server && server.exitCode === null) server.kill('SIGKILL');
});

const W = '[data-omnidesk-message]';

const dashboardDir = join(repo, 'web/dashboard/dist');
const haveDashboard = existsSync(join(dashboardDir, 'index.html'));

// A Telegram update posted to the webhook, as Telegram does.
async function postUpdate(update) {
  const r = await fetch(`http://127.0.0.1:${omnideskPort}/telegram/${BOT_ID}/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': WEBHOOK_SECRET },
    body: JSON.stringify(update),
  });
  if (!r.ok) throw new Error(`webhook answered ${r.status}: ${await r.text()}`);
}

async function main() {
  const tgPort = await listen(fakeTelegram);
  const hostPort = await listen(allowedHost);
  const refusedPort = await listen(refusedHost);
  omnideskPort = await freePort();
  env = {
    ...process.env,
    OMNIDESK_LISTEN: `127.0.0.1:${omnideskPort}`,
    OMNIDESK_DATA_DIR: dataDir,
    TELEGRAM_API_URL: `http://127.0.0.1:${tgPort}`,
    OMNIDESK_WIDGET_DIR: process.env.OMNIDESK_WIDGET_DIR ?? join(widget, 'dist'),
    // The agent dashboard, when built (run-tests builds it first): the agent side of the
    // scenario is checked in it too.
    OMNIDESK_DASHBOARD_DIR: dashboardDir,
    OMNIDESK_JWT_SECRET: JWT_SECRET,
    OMNIDESK_WS_PING_SECS: '5',
    RUST_LOG: 'info',
  };
  serverLog = createWriteStream(join(results, 'omnidesk.log'));
  await admin(['agent', 'add', '--email', EMAIL, '--name', 'Ann Agent', '--password', PASSWORD]);
  await admin(['bot', 'add', '--token', BOT_TOKEN, '--webhook-secret', WEBHOOK_SECRET]);
  const out = await admin(['website', 'add', '--name', 'Shop', '--origin', `http://127.0.0.1:${hostPort}`, '--bot', BOT_ID]);
  websiteId = out.trim().split('\n').pop().trim().split(/\s+/).pop();
  assert(websiteId, `a website id on the last line of: ${out}`);
  console.log(`       website ${websiteId}, host page http://127.0.0.1:${hostPort}/, omnidesk :${omnideskPort}`);
  await startServer();

  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await watchContext(context, 'visitor');
  page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  const toServer = [];
  page.on('request', (r) => {
    if (r.url().startsWith(`http://127.0.0.1:${omnideskPort}/`) || r.url().startsWith(`ws://127.0.0.1:${omnideskPort}/`)) toServer.push(`${r.method()} ${new URL(r.url()).pathname}`);
  });
  const host = `http://127.0.0.1:${hostPort}/`;

  // The agent, logged in to the dashboard in another browser context, watches live.
  let dash = null;
  if (haveDashboard) {
    const dctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await watchContext(dctx, 'dashboard'); // served with the server's own CSP
    dash = await dctx.newPage();
    dash.on('pageerror', (e) => pageErrors.push(`dashboard: ${e}`));
    await dash.goto(`http://127.0.0.1:${omnideskPort}/`);
    await dash.getByTestId('email').fill(EMAIL);
    await dash.getByTestId('password').fill(PASSWORD);
    await dash.getByTestId('login').click();
    await dash.getByTestId('link').and(dash.locator('[data-state="open"]')).waitFor({ timeout: 5000 });
    // Online: new conversations are assigned to this agent and land in "Mine".
    await dash.getByTestId('my-status').selectOption('online');
    await sleep(300);
  } else {
    console.log('       (the dashboard is not built: its part of the scenario is skipped)');
  }

  await test('the loader alone: launcher in a shadow root, no request but widget.js before the visitor opens it', async () => {
    const r = await fetch(`http://127.0.0.1:${omnideskPort}/widget.js`);
    assert(r.ok, `GET /widget.js answered ${r.status}`);
    assert(/javascript/.test(r.headers.get('content-type') ?? ''), `widget.js content-type ${r.headers.get('content-type')}`);
    await page.goto(host);
    await page.locator('[data-omnidesk-launcher]').waitFor({ timeout: 5000 });
    await sleep(500);
    assert(JSON.stringify(toServer) === JSON.stringify(['GET /widget.js']), `requests before opening: ${toServer.join(', ')}`);
    const inShadow = await page.evaluate(() => {
      const h = document.querySelector('[data-omnidesk-host]');
      return !!h?.shadowRoot?.querySelector('[data-omnidesk-launcher]') && !document.querySelector('body > [data-omnidesk-launcher]');
    });
    assert(inShadow, 'the launcher lives in an open shadow root');
    const bg = await page.locator('[data-omnidesk-launcher]').evaluate((el) => getComputedStyle(el).backgroundColor);
    assert(bg !== 'rgb(255, 105, 180)', 'host CSS (button{background:hotpink!important}) does not reach the launcher');
    await page.screenshot({ path: join(results, '01-launcher.png') });
  });

  await test('the visitor opens the chat and writes; the message shows as sent', async () => {
    await page.locator('[data-omnidesk-launcher]').click();
    const composer = page.locator('[data-omnidesk-composer]');
    await composer.waitFor({ timeout: 5000 });
    await waitFor(() => composer.evaluate((el) => el.getRootNode().activeElement === el), 3000, 'the composer focused on open');
    await page.locator('[data-omnidesk-panel][data-omnidesk-state=ready]').waitFor({ timeout: 5000 });
    await composer.fill(FIRST);
    await composer.press('Enter');
    const mine = page.locator(`${W}[data-direction=inbound]`).filter({ hasText: FIRST });
    await mine.waitFor({ timeout: 5000 });
    await waitFor(async () => /^.+$/.test((await mine.getAttribute('data-omnidesk-message')) ?? ''), 5000, 'the stored message id');
    assert((await composer.inputValue()) === '', 'composer cleared');
    assert(toServer.includes('GET /widget/panel.js'), 'the panel was loaded from <base>/widget/panel.js');
    assert(!toServer.some((u) => /token|visitor_token/.test(u)), 'no token in any URL');
    if (dash) {
      // Live: the agent's list shows it without a reload.
      await dash.getByTestId('conversation-item').filter({ hasText: 'Order #1024' }).waitFor({ timeout: 3000 });
    }
  });

  await test('an agent reply through the agent API appears in the widget in under 1 s', async () => {
    const conv = await waitFor(webConversationId, 5000, 'the web conversation in the agent API');
    await page.locator('[data-omnidesk-panel] .od-status[data-link=open]').waitFor({ timeout: 5000 });
    const text = 'Hi! Tracking AB123 was updated a minute ago.';
    const t0 = Date.now();
    await agentApi('POST', `/conversations/${conv}/messages`, { text, client_id: 'e2e-reply-1' });
    await page.locator(`${W}[data-direction=outbound]`).filter({ hasText: text }).waitFor({ timeout: 1000 });
    console.log(`       reply shown ${Date.now() - t0} ms after the agent API call`);
    const who = await page.locator(`${W}[data-direction=outbound]`).filter({ hasText: text }).locator('.od-who').textContent();
    assert(who === 'Ann Agent', `agent name shown, got ${who}`);
  });

  await test('an agent text with markup stays text', async () => {
    const conv = await webConversationId();
    const payload = '<img src=x onerror="window.__xss=1"><b>bold?</b>';
    await agentApi('POST', `/conversations/${conv}/messages`, { text: payload });
    const m = page.locator(`${W}[data-direction=outbound]`).filter({ hasText: '<img src=x' });
    await m.waitFor({ timeout: 3000 });
    await sleep(200);
    assert((await page.evaluate(() => window.__xss)) === undefined, 'no script ran');
    assert((await page.locator('[data-omnidesk-panel] img, [data-omnidesk-panel] b').count()) === 0, 'no element from the text');
  });

  // ---------- attachments ----------
  const uploadWhy = process.env.OMNIDESK_E2E_ATTACHMENTS === '1' ? null : await uploadsMissing();
  const picture = makePng(96, 64, 120);
  let webImage = false;
  const uploadTest = 'a visitor attaches an image: uploaded, sent, shown in the widget and inline in the dashboard';
  if (uploadWhy) {
    skip(uploadTest, `POST /web/v1/files has not landed in this server (${uploadWhy}); OMNIDESK_E2E_ATTACHMENTS=1 runs it anyway`);
  } else {
    await test(uploadTest, async () => {
      await page.locator('[data-omnidesk-attach]').waitFor({ timeout: 3000 });
      await page.locator('[data-omnidesk-file-input]').setInputFiles({ name: 'broken-box.png', mimeType: 'image/png', buffer: picture });
      await page.locator('[data-omnidesk-upload=done]').waitFor({ timeout: 5000 });
      await page.screenshot({ path: join(results, '09-upload-chip.png') });
      await page.locator('[data-omnidesk-composer]').fill('Photo of the box');
      await page.locator('[data-omnidesk-composer]').press('Enter');
      const mine = page.locator(`${W}[data-direction=inbound]`).filter({ hasText: 'Photo of the box' });
      await mine.waitFor({ timeout: 5000 });
      const img = mine.locator('img');
      await img.waitFor({ timeout: 5000 });
      // The link is relative to the API (`/files/...`): resolved against it, not the host page.
      const src = await img.getAttribute('src');
      assert(src.startsWith(`http://127.0.0.1:${omnideskPort}/`), `the picture comes from the omnidesk origin: ${src}`);
      await waitFor(() => img.evaluate((el) => el.complete && el.naturalWidth === 96), 5000, 'the picture decoded in the widget');
      assert((await mine.locator('a').getAttribute('target')) === '_blank', 'a click opens it in a new tab');
      await page.screenshot({ path: join(results, '10-widget-image.png') });
      webImage = true;
      if (dash) {
        const conv = await webConversationId();
        await dash.locator(`[data-testid="conversation-item"][data-id="${conv}"]`).click();
        const m = dash.getByTestId('message').filter({ hasText: 'Photo of the box' });
        await m.waitFor({ timeout: 5000 });
        const dimg = m.getByTestId('attachment-image');
        await dimg.waitFor({ timeout: 5000 });
        await waitFor(() => dimg.evaluate((el) => el.complete && el.naturalWidth === 96), 5000, 'the picture decoded in the dashboard');
        await dash.screenshot({ path: join(results, '11-dashboard-web-image.png') });
      }
    });
  }

  let tmeUrl = null;
  await test('Continue on Telegram: a t.me deep link (new tab) and, on a wide screen, a QR code; screenshots', async () => {
    await page.locator('[data-omnidesk-telegram]').click();
    const link = page.locator('[data-omnidesk-telegram-link]');
    await link.waitFor({ timeout: 5000 });
    tmeUrl = await link.getAttribute('href');
    assert(/^https:\/\/t\.me\/[A-Za-z0-9_]+\?start=[A-Za-z0-9_-]{16,64}$/.test(tmeUrl ?? ''), `a t.me deep link, got ${tmeUrl}`);
    assert((await link.getAttribute('target')) === '_blank', 'opens in a new tab');
    console.log(`       ${tmeUrl}`);
    await page.locator('[data-omnidesk-qr] svg').waitFor({ state: 'visible', timeout: 2000 });
    await page.screenshot({ path: join(results, '02-desktop-1280x800.png') });
    await page.setViewportSize({ width: 390, height: 844 });
    await sleep(200);
    const box = await page.locator('[data-omnidesk-panel]').boundingBox();
    assert(box && box.width >= 389 && box.height >= 843, `full screen on a phone, got ${JSON.stringify(box)}`);
    assert(!(await page.locator('[data-omnidesk-qr]').isVisible()), 'no QR code on a phone');
    const fontPx = await page.locator('[data-omnidesk-composer]').evaluate((el) => parseFloat(getComputedStyle(el).fontSize));
    assert(fontPx >= 16, `composer font ≥ 16 px (no iOS zoom), got ${fontPx}`);
    await page.screenshot({ path: join(results, '03-phone-390x844.png') });
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  await test('the visitor continues on Telegram: the summary reaches the chat, the next reply goes to Telegram and still shows in the widget; the dashboard shows Website → Telegram', async () => {
    assert(tmeUrl, 'a deep link from the previous test');
    const token = new URL(tmeUrl).searchParams.get('start');
    const chat = 6100;
    const from = { id: chat, is_bot: false, first_name: 'Vera', username: 'vera_k', language_code: 'en' };
    const before = sends.length;
    await postUpdate({
      update_id: 9001,
      message: { message_id: 1, date: Math.floor(Date.now() / 1000), chat: { id: chat, type: 'private', first_name: 'Vera' }, from, text: `/start ${token}` },
    });
    const summary = await waitFor(
      () => sends.slice(before).find((m) => String(m.chat_id) === String(chat) && /synced your conversation from the website/.test(m.text)),
      5000,
      'the bot summary sent to that Telegram chat',
    );
    assert(/order #1024/.test(summary.text) && /tracking/.test(summary.text), `the summary names the order and topic: ${summary.text}`);
    console.log(`       bot: ${summary.text}`);
    await page.locator('[data-omnidesk-telegram-status]').filter({ hasText: '@vera_k' }).waitFor({ timeout: 3000 });
    const conv = await webConversationId();
    const text = 'Your parcel is at the depot and arrives tomorrow.';
    const t0 = Date.now();
    await agentApi('POST', `/conversations/${conv}/messages`, { text, client_id: 'e2e-after-telegram' });
    await waitFor(() => sends.find((m) => String(m.chat_id) === String(chat) && m.text === text), 5000, 'the reply sent to the Telegram chat');
    await page.locator(`${W}[data-direction=outbound]`).filter({ hasText: text }).waitFor({ timeout: 2000 });
    console.log(`       reply on Telegram and in the open widget ${Date.now() - t0} ms after the agent API call`);
    await page.screenshot({ path: join(results, '07-continued-on-telegram.png') });
    if (dash) {
      await dash.getByTestId('conversation-item').filter({ hasText: text.slice(0, 20) }).click();
      await dash.getByTestId('channel-path').filter({ hasText: 'Website → Telegram' }).waitFor({ timeout: 3000 });
      await dash.locator('[data-channel="web"]').first().waitFor({ timeout: 3000 });
      await dash.locator('[data-channel="telegram"]').first().waitFor({ timeout: 3000 });
      await dash.getByTestId('message').filter({ hasText: 'Order #1024 has no tracking update' }).waitFor({ timeout: 3000 });
      await dash.getByTestId('message').filter({ hasText: text }).waitFor({ timeout: 3000 });
      if (webImage) {
        // The picture sent on the website is part of the history the agent sees after the switch.
        const img = dash.getByTestId('message').filter({ hasText: 'Photo of the box' }).getByTestId('attachment-image');
        await waitFor(() => img.evaluate((el) => el.complete && el.naturalWidth === 96), 5000, 'the website picture after the switch');
      }
      // The visitor read the web replies in the open widget: the agent sees them as seen.
      await dash.locator('[data-testid="delivery"][data-seen="true"]').first().waitFor({ timeout: 3000 });
      await dash.screenshot({ path: join(results, '08-dashboard-website-to-telegram.png') });
    }
  });

  await test('keyboard: Tab stays in the panel, Esc closes it and focus returns to the launcher', async () => {
    for (let i = 0; i < 12; i++) await page.keyboard.press('Tab');
    const inside = await page.evaluate(() => {
      const root = document.querySelector('[data-omnidesk-host]').shadowRoot;
      const a = root.activeElement;
      return !!a && !!a.closest('[data-omnidesk-panel]');
    });
    assert(inside, 'focus stays in the open panel');
    await page.keyboard.press('Escape');
    await waitFor(async () => (await page.locator('[data-omnidesk-launcher]').getAttribute('aria-expanded')) === 'false', 2000, 'closed');
    const focused = await page.evaluate(() => document.querySelector('[data-omnidesk-host]').shadowRoot.activeElement?.hasAttribute('data-omnidesk-launcher'));
    assert(focused, 'launcher focused');
  });

  await test('a returning visitor: after a reload the history is back and a reply while closed raises the badge', async () => {
    await page.reload();
    await page.locator('[data-omnidesk-launcher]').waitFor({ timeout: 5000 });
    // The panel code loads in the background for a visitor with a conversation.
    await waitFor(() => toServer.filter((u) => u === 'GET /widget/panel.js').length >= 2, 5000, 'panel.js loaded in the background');
    await sleep(1000); // socket up
    const conv = await webConversationId();
    await agentApi('POST', `/conversations/${conv}/messages`, { text: 'Anything else I can help with?' });
    await waitFor(async () => (await page.locator('[data-omnidesk-launcher] .od-badge').textContent()) === '1', 3000, 'badge 1');
    await page.screenshot({ path: join(results, '04-badge.png') });
    await page.locator('[data-omnidesk-launcher]').click();
    await page.locator(W).filter({ hasText: FIRST }).waitFor({ timeout: 3000 });
    await page.locator(W).filter({ hasText: 'Anything else I can help with?' }).waitFor({ timeout: 3000 });
    await waitFor(async () => !(await page.locator('[data-omnidesk-launcher] .od-badge').isVisible()), 2000, 'badge cleared on open');
    assert((await page.locator(W).filter({ hasText: FIRST }).count()) === 1, 'the first message is shown once');
  });

  await test('Arabic: right to left', async () => {
    const p2 = await context.newPage();
    await p2.goto(`${host}?lang=ar`);
    await p2.locator('[data-omnidesk-launcher]').click();
    await p2.locator('[data-omnidesk-composer]').waitFor({ timeout: 5000 });
    const dir = await p2.locator('[data-omnidesk-panel]').evaluate((el) => getComputedStyle(el).direction);
    assert(dir === 'rtl', `direction rtl, got ${dir}`);
    await p2.screenshot({ path: join(results, '05-arabic.png') });
    await p2.close();
  });

  await test('a host page on an origin not on the list gets no session: "chat unavailable", no crash', async () => {
    const ctx2 = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await watchContext(ctx2, 'refused origin');
    const p3 = await ctx2.newPage();
    const errors = [];
    p3.on('pageerror', (e) => errors.push(String(e)));
    await p3.goto(`http://127.0.0.1:${refusedPort}/`);
    await p3.locator('[data-omnidesk-launcher]').click();
    await p3.locator('[data-omnidesk-panel][data-omnidesk-state=refused], [data-omnidesk-panel][data-omnidesk-state=unavailable]').waitFor({ timeout: 8000 });
    const banner = await p3.locator('[data-omnidesk-panel] .od-banner').textContent();
    assert(/unavailable|not available/i.test(banner ?? ''), `a clear message, got ${banner}`);
    const token = await p3.evaluate((id) => localStorage.getItem(`omnidesk:${id}`), websiteId);
    assert(token === null, 'no visitor token');
    await p3.screenshot({ path: join(results, '06-refused-origin.png') });
    assert(errors.length === 0, `page errors: ${errors.join(' | ')}`);
    await ctx2.close();
  });

  await test('on a host page with a strict CSP (no inline style; scripts, API, socket only from omnidesk) the widget is styled, a message and the reply go through, nothing is refused', async () => {
    // A visitor of their own (a fresh context: no stored session), on the allowed origin.
    const sctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const refused = [];
    await watchCsp(sctx, (what) => {
      refused.push(what);
      cspViolations.push({ who: 'strict host', during: currentTest, what });
    });
    try {
      const p = await sctx.newPage();
      const errors = [];
      p.on('pageerror', (e) => errors.push(String(e)));
      const r = await p.goto(`${host}strict`);
      assert(r.headers()['content-security-policy'] === strictCsp(), `the page is served with the strict CSP: ${r.headers()['content-security-policy']}`);
      // The host's own stylesheet applies (it is 'self'), and so must the widget's.
      assert((await p.locator('h1').evaluate((el) => getComputedStyle(el).fontFamily)).includes('Georgia'), "the host's stylesheet loaded");
      const launcher = p.locator('[data-omnidesk-launcher]');
      await launcher.waitFor({ timeout: 5000 });
      // Values only the widget's stylesheet sets: unstyled, the launcher would be a grey
      // inline button in the page's flow.
      const look = await launcher.evaluate((el) => {
        const b = getComputedStyle(el);
        return { root: getComputedStyle(el.parentElement).position, bg: b.backgroundColor, w: b.width, h: b.height, radius: b.borderRadius };
      });
      assert(look.root === 'fixed' && look.bg === 'rgb(37, 99, 235)' && look.w === '56px' && look.h === '56px' && look.radius === '50%', `the launcher is styled: ${JSON.stringify(look)}`);
      const sheets = await p.evaluate(() => {
        const root = document.querySelector('[data-omnidesk-host]').shadowRoot;
        return { adopted: root.adoptedStyleSheets.length, styleElements: root.querySelectorAll('style').length };
      });
      assert(sheets.adopted === 1 && sheets.styleElements === 0, `the loader's CSS is an adopted stylesheet, not a <style>: ${JSON.stringify(sheets)}`);
      await p.screenshot({ path: join(results, '12-strict-csp-launcher.png') });

      await launcher.click();
      const panel = p.locator('[data-omnidesk-panel][data-omnidesk-state=ready]');
      await panel.waitFor({ timeout: 5000 });
      const panelLook = await p.locator('[data-omnidesk-panel]').evaluate((el) => {
        const s = getComputedStyle(el);
        return { position: s.position, width: s.width, radius: s.borderRadius, head: getComputedStyle(el.querySelector('.od-head')).backgroundColor };
      });
      assert(panelLook.position === 'fixed' && panelLook.width === '370px' && panelLook.radius === '14px' && panelLook.head === 'rgb(37, 99, 235)', `the panel is styled: ${JSON.stringify(panelLook)}`);
      const composer = p.locator('[data-omnidesk-composer]');
      assert((await composer.evaluate((el) => getComputedStyle(el).fontSize)) === '16px', 'the composer has the panel font size');
      assert((await p.evaluate(() => document.querySelector('[data-omnidesk-host]').shadowRoot.adoptedStyleSheets.length)) === 2, "the panel's CSS is adopted too");

      // The API (connect-src) and the socket (ws: in connect-src) work: the reply comes live.
      const text = 'Strict shop: is the blue jacket back in stock?';
      await composer.fill(text);
      await composer.press('Enter');
      const mine = p.locator(`${W}[data-direction=inbound]`).filter({ hasText: text });
      await mine.waitFor({ timeout: 5000 });
      await waitFor(async () => /^.+$/.test((await mine.getAttribute('data-omnidesk-message')) ?? ''), 5000, 'the stored message id');
      await p.locator('[data-omnidesk-panel] .od-status[data-link=open]').waitFor({ timeout: 5000 });
      const conv = await waitFor(async () => {
        const list = await agentApi('GET', '/conversations?status=all&limit=100');
        return list.items.find((x) => (x.last_message?.text ?? '') === text)?.id;
      }, 5000, 'the strict page visitor’s conversation in the agent API');
      const reply = 'Yes, it is back in all sizes.';
      await agentApi('POST', `/conversations/${conv}/messages`, { text: reply, client_id: 'e2e-strict-reply' });
      await p.locator(`${W}[data-direction=outbound]`).filter({ hasText: reply }).waitFor({ timeout: 3000 });
      const mineBg = await mine.locator('.od-bubble').evaluate((el) => getComputedStyle(el).backgroundColor);
      assert(mineBg === 'rgb(37, 99, 235)', `the visitor's bubble is styled: ${mineBg}`);
      await p.screenshot({ path: join(results, '13-strict-csp-panel.png') });

      await sleep(200); // a late violation (a refused picture or socket) has time to be reported
      const inPage = await p.evaluate(() => window.__cspViolations);
      assert(inPage.length === 0, `securitypolicyviolation events in the page: ${JSON.stringify(inPage)}`);
      const report = cspReport(refused);
      assert(!report, report);
      assert(errors.length === 0, `page errors: ${errors.join(' | ')}`);
    } finally {
      await sctx.close();
    }
  });

  await test("the demo page (/widget/demo.html, served with the server's CSP) embeds the widget", async () => {
    const p = await context.newPage();
    try {
      const r = await p.goto(`http://127.0.0.1:${omnideskPort}/widget/demo.html?website=${websiteId}`);
      assert(r.ok(), `demo.html answered ${r.status()}`);
      if (!r.headers()['content-security-policy']) console.log('       note: the server sends demo.html without a CSP');
      // Its script is a file (demo.js): an inline one would be refused and no launcher drawn.
      const launcher = p.locator('[data-omnidesk-launcher]');
      await launcher.waitFor({ timeout: 5000 });
      assert((await launcher.evaluate((el) => getComputedStyle(el).backgroundColor)) === 'rgb(37, 99, 235)', 'the launcher is styled');
    } finally {
      await p.close();
    }
  });

  await test('the page raised no uncaught errors', async () => {
    assert(pageErrors.length === 0, `page errors: ${pageErrors.join(' | ')}`);
  });

  // Last, so it covers every page of every context (the dashboard's too).
  await test('the browser reported no Content-Security-Policy violation in any page', async () => {
    const report = cspReport(cspViolations.map((v) => `[${v.who}, during "${v.during}"] ${v.what}`));
    assert(!report, report);
  });

  void tmeUrl;
}

const started = Date.now();
try {
  await main();
} catch (e) {
  outcomes.push({ name: 'setup', ok: false });
  console.log(`FAIL - setup\n       ${(e && e.stack) || e}`);
} finally {
  await cleanup();
}
const skipped = outcomes.filter((o) => o.skipped).length;
const passed = outcomes.filter((o) => o.ok && !o.skipped).length;
const failed = outcomes.length - passed - skipped;
console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''} (${((Date.now() - started) / 1000).toFixed(1)} s; screenshots in ${results})`);
process.exit(failed === 0 ? 0 : 1);
