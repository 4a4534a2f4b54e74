// A quick browser check of the built widget that needs no Rust server: a small in-memory
// stand-in for /web/v1 (sessions, messages, Telegram link; no WebSocket, so the widget shows
// "Reconnecting…" and retries) serves dist/, a host page on a second origin embeds the tag, and
// a third origin is refused by CORS. Files: POST /web/v1/files (multipart) and /files/<id>
// links relative to the API, as the real server gives them. Screenshots go to test-results/mock-*.png.
//
// env: CHROMIUM (default /usr/bin/chromium)

import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { makePng } from '../../dashboard/e2e/png.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const dist = resolve(here, '../dist');
const results = resolve(here, '../test-results');
mkdirSync(results, { recursive: true });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let allowedOrigin = '';
const tokens = new Map();
const posts = [];
const messages = [];
let seq = 0;
const website = { id: 'ws_demo', name: 'Shop', telegram: true, prechat: false };
const files = new Map();

/** The first file part of a multipart body: `{filename, type, bytes}`. */
function filePart(buf, contentType) {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(contentType ?? '');
  if (!boundary) return null;
  const delim = Buffer.from(`--${boundary[1] ?? boundary[2]}`);
  let at = buf.indexOf(delim);
  while (at !== -1) {
    const next = buf.indexOf(delim, at + delim.length);
    if (next === -1) return null;
    const part = buf.subarray(at + delim.length + 2, next - 2);
    const end = part.indexOf('\r\n\r\n');
    const head = part.subarray(0, end).toString();
    const filename = /filename="([^"]*)"/.exec(head)?.[1];
    if (filename !== undefined) return { filename, type: /content-type:\s*([^\r\n]+)/i.exec(head)?.[1] ?? 'application/octet-stream', bytes: part.subarray(end + 4) };
    at = next;
  }
  return null;
}

const api = createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const origin = req.headers.origin;
  const cors = origin === allowedOrigin ? { 'access-control-allow-origin': origin, 'access-control-allow-headers': 'authorization, content-type', 'access-control-allow-methods': 'GET, POST, DELETE', vary: 'Origin' } : {};
  const json = (status, body) => {
    res.writeHead(status, { 'content-type': 'application/json', ...cors });
    res.end(body === undefined ? '' : JSON.stringify(body));
  };
  if (url.pathname === '/widget.js' || url.pathname.startsWith('/widget/') || url.pathname === '/demo.html') {
    try {
      const body = await readFile(join(dist, url.pathname));
      res.writeHead(200, { 'content-type': url.pathname.endsWith('.html') ? 'text/html' : 'text/javascript' });
      return res.end(body);
    } catch {
      res.writeHead(404);
      return res.end();
    }
  }
  const stored = /^\/files\/(\w+)$/.exec(url.pathname);
  if (stored && files.has(stored[1]) && url.searchParams.get('sig')) {
    const f = files.get(stored[1]);
    res.writeHead(200, { 'content-type': f.type, 'content-disposition': `${f.type.startsWith('image/') ? 'inline' : 'attachment'}; filename="${f.filename}"` });
    return res.end(f.bytes);
  }
  if (!url.pathname.startsWith('/web/v1/')) return json(404, { error: { code: 'not_found', message: url.pathname } });
  if (req.method === 'OPTIONS') {
    res.writeHead(origin === allowedOrigin ? 204 : 403, cors);
    return res.end();
  }
  if (origin !== allowedOrigin) return json(403, { error: { code: 'origin_not_allowed', message: 'origin not allowed' } });
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const raw = Buffer.concat(chunks);
  const multipart = /^multipart\//.test(req.headers['content-type'] ?? '');
  const body = !multipart && raw.length ? JSON.parse(raw.toString()) : {};
  const path = url.pathname.slice('/web/v1'.length);
  const auth = (req.headers.authorization ?? '').replace(/^Bearer /, '');
  if (req.method === 'POST' && path === '/sessions') {
    const visitor = tokens.get(auth) ?? `vi_${++seq}`;
    const token = `tok_${++seq}`;
    tokens.set(token, visitor);
    return json(201, { visitor_token: token, expires_at: Date.now() + 30 * 864e5, website });
  }
  const visitor = tokens.get(auth);
  if (!visitor) return json(401, { error: { code: 'unauthorized', message: 'no session' } });
  const conv = messages.length ? 'cv_1' : null;
  const session = { visitor_id: visitor, name: null, email: null, email_verified: false, conversation_id: conv, channels: ['web'], telegram: null, website };
  if (req.method === 'GET' && path === '/session') return json(200, session);
  if (req.method === 'POST' && path === '/files') {
    const f = filePart(raw, req.headers['content-type']);
    if (!f) return json(400, { error: { code: 'bad_request', message: 'one file part' } });
    const id = `fl${++seq}`;
    files.set(id, f);
    return json(201, { file: { id, kind: f.type.startsWith('image/') ? 'image' : 'file', file_name: f.filename, mime_type: f.type, size_bytes: f.bytes.length, url: `/files/${id}?exp=1&sig=x` } });
  }
  if (req.method === 'POST' && path === '/messages') {
    // As the server: a choice must be a button of one of the last 20 messages from our side.
    if (body.choice !== undefined && !messages.filter((x) => x.direction === 'outbound').slice(-20).some((x) => x.buttons?.some((b) => b.data === body.choice))) {
      return json(400, { error: { code: 'unknown_choice', message: 'choice: not a button of a recent message in this chat' } });
    }
    posts.push(body);
    let m = messages.find((x) => x.client_id === body.client_id);
    if (!m) {
      const now = Date.now();
      const attachments = (body.attachments ?? []).map((id) => {
        const f = files.get(id);
        return { kind: f.type.startsWith('image/') ? 'image' : 'file', file_name: f.filename, mime_type: f.type, size_bytes: f.bytes.length, url: `/files/${id}?exp=1&sig=x` };
      });
      m = { id: `m_${++seq}`, conversation_id: 'cv_1', direction: 'inbound', author: { kind: 'contact' }, author_name: null, channel: 'web', text: body.text.trim(), delivery: { status: 'received', updated_at: now }, created_at: now, client_id: body.client_id ?? null, attachments };
      messages.push(m);
      const reply = { id: `m_${++seq}`, conversation_id: 'cv_1', direction: 'outbound', author: { kind: 'agent' }, author_name: '<b>Ann</b> <img src=x onerror=alert(1)>', channel: 'web', text: 'Thanks! We are looking at it.', delivery: { status: 'sent', updated_at: now + 1 }, created_at: now + 1, client_id: null };
      messages.push(reply);
    }
    return json(201, m);
  }
  if (req.method === 'GET' && path === '/messages') return json(200, { items: [...messages].reverse(), next_cursor: null });
  if (req.method === 'POST' && path === '/ws-ticket') return json(503, { error: { code: 'unavailable', message: 'no socket in the mock' } });
  if (req.method === 'POST' && path === '/read') return json(204);
  if (req.method === 'POST' && path === '/channels/telegram') return json(201, { url: 'https://t.me/shop_bot?start=AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abcdefghi', expires_at: Date.now() + 600_000 });
  return json(404, { error: { code: 'not_found', message: path } });
});

const host = (apiPort, lang) =>
  createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<!doctype html><html><head><meta name="viewport" content="width=device-width, initial-scale=1"><style>body{font:18px Georgia;margin:40px} button{background:hotpink!important}</style></head>
<body><h1>A shop</h1><p>Lorem ipsum.</p><script src="http://127.0.0.1:${apiPort}/widget.js" data-website="ws_demo"${lang ? ` data-lang="${lang}"` : ''} async></script></body></html>`);
  });

const listen = (s) => new Promise((r) => s.listen(0, '127.0.0.1', () => r(s.address().port)));
const apiPort = await listen(api);
const hostSrv = host(apiPort);
const hostPort = await listen(hostSrv);
const otherSrv = host(apiPort, 'ar');
const otherPort = await listen(otherSrv);
allowedOrigin = `http://127.0.0.1:${hostPort}`;

const outcomes = [];
let page;
async function test(name, fn) {
  try {
    await fn();
    outcomes.push(true);
    console.log(`ok   - ${name}`);
  } catch (e) {
    outcomes.push(false);
    console.log(`FAIL - ${name}\n       ${(e && e.stack) || e}`);
    await page?.screenshot({ path: join(results, `mock-failure-${outcomes.length}.png`) }).catch(() => {});
  }
}
const assert = (c, m) => {
  if (!c) throw new Error(`assertion failed: ${m}`);
};

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] });
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const reqs = [];
  page.on('request', (r) => r.url().includes(`:${apiPort}/`) && reqs.push(new URL(r.url()).pathname));

  await test('launcher only, no API request before opening', async () => {
    await page.goto(`http://127.0.0.1:${hostPort}/`);
    await page.locator('[data-omnidesk-launcher]').waitFor({ timeout: 5000 });
    await sleep(300);
    assert(JSON.stringify(reqs) === '["/widget.js"]', reqs.join(','));
  });

  await test('open, send, agent reply rendered as text, ticks', async () => {
    await page.locator('[data-omnidesk-launcher]').click();
    const composer = page.locator('[data-omnidesk-composer]');
    await composer.fill('Order #1024 has no tracking update');
    await composer.press('Enter');
    await page.locator('[data-omnidesk-message][data-direction=inbound][data-status=received]').filter({ hasText: 'Order #1024' }).waitFor({ timeout: 5000 });
    assert(posts.length === 1, `one POST, got ${posts.length}`);
    assert(reqs.includes('/widget/panel.js'), 'panel.js loaded');
    // the reply arrives on the resync of the (missing) socket's next attempt: read the page again
    await page.reload();
    await page.locator('[data-omnidesk-launcher]').click();
    const reply = page.locator('[data-omnidesk-message][data-direction=outbound]');
    await reply.waitFor({ timeout: 5000 });
    assert((await reply.locator('.od-who').textContent()) === '<b>Ann</b> <img src=x onerror=alert(1)>', 'name as text');
    assert((await page.locator('[data-omnidesk-panel] img, [data-omnidesk-panel] b').count()) === 0, 'no markup');
    assert((await page.locator('[data-omnidesk-message]').filter({ hasText: 'Order #1024' }).count()) === 1, 'shown once');
  });

  await test('attach a picture and a PDF: chips, upload, sent by id; the picture shows from the API origin, the PDF is a download', async () => {
    const png = makePng(96, 64, 120);
    await page.locator('[data-omnidesk-file-input]').setInputFiles([
      { name: 'box.png', mimeType: 'image/png', buffer: png },
      { name: 'receipt.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4 receipt') },
    ]);
    await page.locator('[data-omnidesk-upload=done]').nth(1).waitFor({ timeout: 5000 });
    await page.screenshot({ path: join(results, 'mock-upload-chips.png') });
    await page.locator('[data-omnidesk-composer]').fill('The box and the receipt');
    await page.locator('[data-omnidesk-composer]').press('Enter');
    const mine = page.locator('[data-omnidesk-message][data-direction=inbound]').filter({ hasText: 'The box and the receipt' });
    await mine.waitFor({ timeout: 5000 });
    const sent = posts[posts.length - 1];
    assert(sent.attachments?.length === 2 && sent.attachments.every((id) => files.has(id)), `sent by id: ${JSON.stringify(sent)}`);
    const img = mine.locator('img');
    await img.waitFor({ timeout: 5000 });
    assert((await img.getAttribute('src')).startsWith(`http://127.0.0.1:${apiPort}/files/`), `resolved against the API: ${await img.getAttribute('src')}`);
    await page.waitForFunction(() => document.querySelector('[data-omnidesk-host]').shadowRoot.querySelector('.od-img img')?.naturalWidth === 96);
    const pdf = mine.locator('[data-omnidesk-attachment=file]');
    assert((await pdf.getAttribute('download')) === 'receipt.pdf', 'a download link');
    assert(Buffer.compare(files.get(sent.attachments[0]).bytes, png) === 0, 'the bytes uploaded as picked');
    assert((await page.locator('[data-omnidesk-upload]').count()) === 0, 'chips cleared');
    await page.screenshot({ path: join(results, 'mock-attachments.png') });
  });

  await test('bot buttons: a chip and five rating stars; pressing posts the choice with its label and spends the buttons', async () => {
    const now = Date.now();
    const bot = (id, text, buttons, at) => ({ id, conversation_id: 'cv_1', direction: 'outbound', author: { kind: 'bot' }, author_name: null, channel: 'web', text, delivery: { status: 'sent', updated_at: at }, created_at: at, client_id: null, buttons });
    messages.push(bot('m_greeting', 'Hi! Ask away, or talk to a person.', [{ text: 'Talk to a person', data: 'human' }], now));
    messages.push(bot('m_rating', 'How would you rate our help?', [1, 2, 3, 4, 5].map((n) => ({ text: '\u2b50'.repeat(n), data: `csat:${n}` })), now + 1));
    await page.reload();
    await page.locator('[data-omnidesk-launcher]').click();
    const chip = page.locator('[data-omnidesk-message="m_greeting"] [data-omnidesk-choice="human"]');
    await chip.waitFor({ timeout: 5000 });
    assert((await chip.textContent()) === 'Talk to a person', 'the label');
    const stars = page.locator('[data-omnidesk-message="m_rating"] [data-omnidesk-choice]');
    assert((await stars.count()) === 5, 'five stars');
    assert((await stars.nth(2).getAttribute('aria-label')) === 'Rate 3 of 5', 'labelled stars');
    await page.screenshot({ path: join(results, 'mock-buttons.png') });
    const before = posts.length;
    await chip.click();
    await page.locator('[data-omnidesk-message][data-direction=inbound][data-status=received]').filter({ hasText: 'Talk to a person' }).waitFor({ timeout: 5000 });
    assert(posts.length === before + 1 && posts[before].choice === 'human' && posts[before].text === 'Talk to a person', JSON.stringify(posts.slice(before)));
    assert(await chip.isDisabled(), 'spent');
    assert((await chip.getAttribute('aria-pressed')) === 'true', 'shown as chosen');
    // The stars by keyboard: focus the first, arrow to the fourth, Enter.
    await stars.nth(0).focus();
    for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowRight');
    await page.keyboard.press('Enter');
    await page.locator('[data-omnidesk-message="m_rating"] [data-omnidesk-buttons=chosen]').waitFor({ timeout: 5000 });
    assert(posts[posts.length - 1].choice === 'csat:4' && posts[posts.length - 1].text === '\u2b50'.repeat(4), JSON.stringify(posts[posts.length - 1]));
    assert((await stars.nth(3).getAttribute('aria-pressed')) === 'true' && (await stars.nth(4).isDisabled()), 'stars spent');
    await page.screenshot({ path: join(results, 'mock-buttons-chosen.png') });
  });

  await test('Telegram link + QR on desktop; full screen, no QR, 16 px inputs on a phone', async () => {
    await page.locator('[data-omnidesk-telegram]').click();
    await page.locator('[data-omnidesk-telegram-link]').waitFor({ timeout: 3000 });
    await page.locator('[data-omnidesk-qr] svg').waitFor({ state: 'visible', timeout: 2000 });
    await page.screenshot({ path: join(results, 'mock-desktop.png') });
    await page.setViewportSize({ width: 390, height: 844 });
    await sleep(200);
    const box = await page.locator('[data-omnidesk-panel]').boundingBox();
    assert(box.width >= 389 && box.height >= 843, JSON.stringify(box));
    assert(!(await page.locator('[data-omnidesk-qr]').isVisible()), 'QR hidden');
    assert((await page.locator('[data-omnidesk-composer]').evaluate((el) => parseFloat(getComputedStyle(el).fontSize))) >= 16, '16px');
    await page.screenshot({ path: join(results, 'mock-phone.png') });
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  await test('Esc closes, focus back on the launcher; Tab is trapped', async () => {
    for (let i = 0; i < 10; i++) await page.keyboard.press('Tab');
    assert(await page.evaluate(() => !!document.querySelector('[data-omnidesk-host]').shadowRoot.activeElement?.closest('[data-omnidesk-panel]')), 'trapped');
    await page.keyboard.press('Escape');
    assert((await page.locator('[data-omnidesk-launcher]').getAttribute('aria-expanded')) === 'false', 'closed');
    assert(await page.evaluate(() => document.querySelector('[data-omnidesk-host]').shadowRoot.activeElement?.hasAttribute('data-omnidesk-launcher')), 'focus on launcher');
  });

  await test('a refused origin (CORS) shows chat unavailable, Arabic RTL, no crash', async () => {
    const p = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const errs = [];
    p.on('pageerror', (e) => errs.push(String(e)));
    await p.goto(`http://127.0.0.1:${otherPort}/`);
    await p.locator('[data-omnidesk-launcher]').click();
    await p.locator('[data-omnidesk-panel][data-omnidesk-state=unavailable], [data-omnidesk-panel][data-omnidesk-state=refused]').waitFor({ timeout: 5000 });
    assert((await p.locator('[data-omnidesk-panel]').evaluate((el) => getComputedStyle(el).direction)) === 'rtl', 'rtl');
    assert((await p.locator('[data-omnidesk-composer]').getAttribute('aria-label')) === 'رسالة', 'Arabic strings intact without a charset');
    await sleep(300);
    await p.screenshot({ path: join(results, 'mock-refused-ar.png') });
    assert(errs.length === 0, errs.join('|'));
    await p.close();
  });

  await test('no uncaught errors', async () => assert(errors.length === 0, errors.join(' | ')));
} finally {
  await browser.close();
  for (const s of [api, hostSrv, otherSrv]) {
    s.closeAllConnections?.();
    s.close();
  }
}
const failed = outcomes.filter((o) => !o).length;
console.log(`\n${outcomes.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
