// Screenshots of the attachment views for a look by eye, without the back end: the built
// dashboard (dist/) served with a stand-in of the agent API holding one conversation with
// every kind of attachment. `node e2e/shots.mjs [out dir]` (default test-results/shots).
// Also checks the basics it shows (images decoded, lightbox open/close, tray, limits).
//
// env: CHROMIUM (default /usr/bin/chromium)

import { readFileSync, existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { makePng } from './png.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const dist = resolve(here, '../dist');
const out = resolve(process.argv[2] ?? join(here, '../test-results/shots'));
mkdirSync(out, { recursive: true });

const now = Date.now();
const at = (minAgo) => new Date(now - minAgo * 60_000).toISOString();
const agent = { id: 'ag_ann', email: 'ann@example.com', name: 'Ann Agent', status: 'online' };
const contact = {
  id: 'ct_vera', display_name: 'Vera K', tags: ['vip'], attributes: {}, channels_seen: ['telegram'],
  identities: [{ kind: 'telegram', bot_id: 1, user_id: 6001, username: 'vera_k' }],
  created_at: at(600), updated_at: at(600), conversations: [],
};
const conv = {
  id: 'cv_1', status: 'assigned', assignee_id: agent.id, channel: 'telegram', channel_path: ['telegram'], contact,
  last_message: { id: 'm9', direction: 'inbound', author_kind: 'contact', channel: 'telegram', text: 'Dice 🎲 5', created_at: at(1) },
  last_activity_at: at(1), last_inbound_at: at(1), unread_count: 0, created_at: at(600), version: 3,
};
const file = (key, extra) => ({ reference: `tg-file:${key}`, blob: `sha256/${key}`, url: `/files/${key}?exp=9999999999&sig=x`, ...extra });
let n = 0;
const msg = (minAgo, patch) => ({
  id: `m${++n}`, conversation_id: 'cv_1', direction: 'inbound', author: { kind: 'contact', id: contact.id }, channel: 'telegram',
  text: '', translations: [], attachments: [], delivery: { status: 'received', attempts: 0, updated_at: at(minAgo) }, created_at: at(minAgo), ...patch,
});
const messages = [
  msg(30, { text: 'Hi! The parcel arrived damaged, here is a photo', attachments: [file('photo1', { kind: 'image', mime_type: 'image/png', size_bytes: 48213, width: 320, height: 240, file_name: 'photo.png' })] }),
  msg(29, { text: 'And the receipt', reply_to: { text: 'Could you send the receipt too?', author: 'Ann Agent' }, attachments: [file('receipt', { kind: 'file', file_name: 'receipt-2026-01-14.pdf', mime_type: 'application/pdf', size_bytes: 248_123 })] }),
  msg(28, { text: 'More pictures of the box:', album: 'alb1', attachments: [0, 1, 2, 3].map((i) => file(`alb${i}`, { kind: 'image', mime_type: 'image/png', size_bytes: 30_000 + i, width: 200, height: 150 })) }),
  msg(27, { text: '', attachments: [{ kind: 'location', reference: 'location', latitude: 52.520008, longitude: 13.404954, title: 'Pickup point Alexanderplatz', address: 'Alexanderplatz 1, 10178 Berlin' }] }),
  msg(26, { text: '', attachments: [file('voice1', { kind: 'voice', mime_type: 'audio/ogg', size_bytes: 18_000, duration_secs: 7 })] }),
  msg(25, { text: 'Unboxing video', attachments: [({ kind: 'file', reference: 'tg-file:video1', file_name: 'unboxing.mov', mime_type: 'video/quicktime', size_bytes: 31_457_280, note: "Not downloaded: over Telegram's 20 MB limit for bots. Ask the customer to send it as a smaller file." }), { kind: 'file', reference: 'tg-file:big', file_name: 'scan.tiff', size_bytes: 3_100_000 }] }),
  msg(24, { text: 'Wrong size, I meant XL', edited_at: at(20), edit_history: [{ text: 'Wrong size, I meant L', replaced_at: at(22) }, { text: 'Wrong size', replaced_at: at(21) }] }),
  msg(23, { text: 'Check this out', forwarded_from: 'Shop News', attachments: [{ kind: 'contact', reference: 'contact', title: 'Max Mustermann', phone: '+49 30 1234567' }] }),
  msg(22, { text: '', attachments: [{ kind: 'poll', reference: 'poll', title: 'Which colour?', options: ['Red', 'Blue', 'Green'] }] }),
  msg(21, { text: '', attachments: [file('stk', { kind: 'sticker', emoji: '👍', mime_type: 'application/x-tgsticker' })] }),
  msg(20, { direction: 'outbound', author: { kind: 'agent', id: agent.id }, text: 'Here is the label to send it back', delivery: { status: 'sent', attempts: 1, updated_at: at(19) }, attachments: [file('label', { kind: 'image', mime_type: 'image/png', file_name: 'return-label.png', size_bytes: 12_345 })] }),
  msg(1, { text: '', attachments: [{ kind: 'dice', reference: 'dice', emoji: '🎲', value: 5 }] }),
];

// An e-mail conversation: a mail with its quote, an attachment and a formatted version; our
// sent reply; a new subject; a bounce; a reply that failed.
const bob = {
  id: 'ct_bob', display_name: 'Bob Miller', tags: [], attributes: {}, channels_seen: ['email'],
  identities: [{ kind: 'email', address: 'bob@customer.org', verified: false }],
  unreachable: [{ channel: 'email', reason: 'e-mail to bob@customer.org bounced (5.2.2): mailbox full', since: at(2) }],
  created_at: at(90), updated_at: at(2), conversations: [],
};
const conv2 = {
  id: 'cv_2', status: 'assigned', assignee_id: agent.id, channel: 'email', channel_path: ['email'], contact: bob,
  last_message: { id: 'e5', direction: 'outbound', author_kind: 'agent', channel: 'email', text: 'Could you confirm the new address?', created_at: at(2) },
  last_activity_at: at(2), last_inbound_at: at(10), unread_count: 0, created_at: at(90), version: 5,
};
const mail = (id, minAgo, patch, ref) => ({
  ...msg(minAgo, { id, conversation_id: 'cv_2', channel: 'email', author: { kind: 'contact', id: bob.id }, ...patch }),
  channel_ref: { kind: 'email', message_id: `${id}@customer.org`, customer: 'bob@customer.org', mailbox: 'support@example.com', ...ref },
});
const quoted = 'On Mon, 12 Jan 2026 at 09:14, Example Support <support@example.com> wrote:\n> Thanks for your order #1024.\n> It ships tomorrow.\n-- \nBob Miller\nCustomer Org';
const emails = [
  mail('e1', 60, { text: 'Hello,\n\nthe parcel never arrived. Can I get a refund? The receipt is attached.\n\nBob', attachments: [file('receipt2', { kind: 'file', file_name: 'receipt-1024.pdf', mime_type: 'application/pdf', size_bytes: 81_234 })] }, { subject: 'Refund for order #1024', quoted, html: 'html/e1' }),
  mail('e2', 50, { direction: 'outbound', author: { kind: 'agent', id: agent.id }, text: 'Sorry about that, Bob. The refund is on its way.', delivery: { status: 'sent', attempts: 1, updated_at: at(50) } }, { subject: 'Re: Refund for order #1024 [#K7Q2]' }),
  mail('e3', 10, { text: 'Thanks! Please send the replacement to my new address instead.' }, { subject: 'New delivery address [#K7Q2]', quoted: '> Sorry about that, Bob. The refund is on its way.' }),
  mail('e4', 3, { author: { kind: 'system' }, text: '', event: { event: 'contact_unreachable', channel: 'email', reason: 'e-mail to bob@customer.org bounced (5.2.2): mailbox full' } }, {}),
  mail('e5', 2, { direction: 'outbound', author: { kind: 'agent', id: agent.id }, text: 'Could you confirm the new address?', delivery: { status: 'failed', reason: 'relay refused: 552 5.2.2 mailbox full', attempts: 3, updated_at: at(2) } }, { subject: 'Re: New delivery address [#K7Q2]' }),
];
// A Russian-speaking customer and an agent who reads English: translated messages both ways,
// one still translating, one failed; our replies sent in Russian, held, or sent untranslated.
const olga = {
  id: 'ct_olga', display_name: 'Olga P', tags: [], attributes: {}, channels_seen: ['telegram'], language: 'ru',
  identities: [{ kind: 'telegram', bot_id: 1, user_id: 7001, username: 'olga_p' }],
  created_at: at(120), updated_at: at(120), conversations: [],
};
const conv3 = {
  id: 'cv_3', status: 'assigned', assignee_id: agent.id, channel: 'telegram', channel_path: ['telegram'], contact: olga, language: 'ru',
  last_message: { id: 't7', direction: 'outbound', author_kind: 'agent', channel: 'telegram', text: 'Could you send a photo of the label?', created_at: at(1) },
  last_activity_at: at(1), last_inbound_at: at(5), unread_count: 0, created_at: at(120), version: 4,
};
const tmsg = (id, minAgo, patch) => msg(minAgo, { id, conversation_id: 'cv_3', author: { kind: 'contact', id: olga.id }, language: 'ru', ...patch });
const ours = (id, minAgo, text, translation, ru, status = 'sent') => tmsg(id, minAgo, {
  direction: 'outbound', author: { kind: 'agent', id: agent.id }, text, language: 'en', translation,
  translations: ru ? [{ language: 'ru', text: ru, provider: 'deepl' }] : [], delivery: { status, attempts: status === 'sent' ? 1 : 0, updated_at: at(minAgo) },
});
const translated = [
  tmsg('t1', 30, { text: 'Здравствуйте! Моя посылка пришла повреждённой.', translations: [{ language: 'en', text: 'Hello! My parcel arrived damaged.', provider: 'deepl' }], translation: { state: 'done' } }),
  ours('t2', 28, 'Sorry to hear that. We will send a new one today.', { state: 'done', target: 'ru' }, 'Очень жаль. Мы отправим новую сегодня.'),
  tmsg('t3', 20, { text: 'Спасибо! А можно доставить её в другой город?', translations: [], translation: { state: 'pending' } }),
  tmsg('t4', 15, { text: 'Адрес: Новосибирск, ул. Ленина, 5', translations: [], translation: { state: 'failed', reason: 'DeepL: 456 quota exceeded', retrying: false } }),
  ours('t5', 10, 'Yes, of course.', { state: 'sent_original' }, null),
  ours('t6', 5, 'We will ship it to Novosibirsk tomorrow.', { state: 'pending', target: 'ru' }, null, 'sending'),
  ours('t7', 1, 'Could you send a photo of the label?', { state: 'failed', reason: 'DeepL: 456 quota exceeded', retrying: false, target: 'ru' }, null, 'sending'),
];
const translationSetup = { enabled: true, providers: ['deepl'], quota: [{ provider: 'deepl', used_today: 500000, limit: 500000, reached: true }] };

const bobHtml = '<div style="font-family:Georgia,serif;color:#222"><p>Hello,</p><p>the parcel <b>never arrived</b>. Can I get a refund?</p><p><img src="https://tracker.example/pixel.gif" alt="tracking pixel"> Bob</p><blockquote style="border-left:2px solid #ccc;padding-left:8px;color:#666">Thanks for your order #1024.</blockquote></div>';

const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json' };
const hues = { photo1: 30, alb0: 200, alb1: 120, alb2: 280, alb3: 0, label: 160 };
const server = createServer((req, res) => {
  const u = new URL(req.url ?? '/', 'http://x');
  const json = (o, status = 200) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(o));
  };
  const p = u.pathname;
  if (p.startsWith('/files/')) {
    const key = p.slice(7);
    res.writeHead(200, { 'content-type': 'image/png' });
    return res.end(makePng(key.startsWith('alb') ? 200 : 320, key.startsWith('alb') ? 150 : 240, hues[key] ?? 60));
  }
  // Signed in already: the page resumes with its refresh cookie (here: none needed).
  if (p === '/api/v1/auth/refresh') return json({ token: 't', expires_at: new Date(Date.now() + 3_600_000).toISOString(), agent });
  if (p === '/api/v1/agents/me') return json(agent);
  if (p === '/api/v1/agents') return json({ items: [agent] });
  if (p === '/api/v1/limits') return json({ max_files: 10, channels: { telegram: { max_bytes: 52428800, photo_max_bytes: 10485760 }, web: { max_bytes: 20971520 } } });
  if (p === '/api/v1/conversations') return json({ items: [conv, conv2, conv3], next_cursor: null });
  if (p === '/api/v1/translation') return json(translationSetup);
  if (p === '/api/v1/conversations/cv_3') return json(conv3);
  if (p === '/api/v1/conversations/cv_3/messages') return json({ items: translated, next_cursor: null });
  if (p === '/api/v1/contacts/ct_olga') return json(olga);
  if (p === '/api/v1/conversations/cv_3/translation-preview') return json({ needed: true, language: 'ru', text: 'Спасибо, мы скоро ответим.', provider: 'deepl' });
  if (p === '/api/v1/conversations/cv_3/messages/t7/send-original') return json({ ...translated[6], translation: { state: 'sent_original' }, delivery: { status: 'sent', attempts: 1, updated_at: at(0) } });
  if (p === '/api/v1/conversations/cv_2') return json(conv2);
  if (p === '/api/v1/conversations/cv_2/messages') return json({ items: emails, next_cursor: null });
  if (p === '/api/v1/conversations/cv_2/messages/e1/html') return json({ html: bobHtml });
  if (p === '/api/v1/contacts/ct_bob') return json(bob);
  if (p === '/api/v1/conversations/cv_1') return json(conv);
  if (p === '/api/v1/conversations/cv_1/messages') return json({ items: messages, next_cursor: null });
  if (p === '/api/v1/contacts/ct_vera') return json(contact);
  if (p.startsWith('/api/')) return json({ error: { code: 'not_found', message: 'not here' } }, 404);
  const f = join(dist, p === '/' ? 'index.html' : p);
  if (!f.startsWith(dist) || !existsSync(f)) {
    res.writeHead(404);
    return res.end();
  }
  res.writeHead(200, { 'content-type': types[extname(f)] ?? 'application/octet-stream' });
  res.end(readFileSync(f));
});

const failures = [];
const check = (cond, what) => {
  console.log(`${cond ? 'ok  ' : 'FAIL'} - ${what}`);
  if (!cond) failures.push(what);
};

await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}/`;
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu'] });
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.addInitScript(() => {
    if (window !== window.top) return; // a formatted e-mail's frame: sandboxed, no storage
    sessionStorage.setItem('omnidesk.open', 'cv_1');
  });
  await page.goto(base);
  await page.getByTestId('attachment-image').first().waitFor({ timeout: 5000 });
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="attachment-image"]')].every((i) => i.complete && i.naturalWidth > 0), null, { timeout: 5000 });
  check(true, 'every inline image decoded (naturalWidth > 0)');
  check((await page.getByTestId('album').getAttribute('data-count')) === '4', 'the album is one grid of 4');
  check((await page.getByTestId('location-coords').textContent()) === '52.520008, 13.404954', 'coordinates as text');
  const map = page.getByTestId('location-map');
  check((await map.getAttribute('href')) === 'https://www.openstreetmap.org/?mlat=52.520008&mlon=13.404954#map=17/52.520008/13.404954', 'OpenStreetMap link');
  check((await map.getAttribute('rel')) === 'noopener noreferrer' && (await map.getAttribute('target')) === '_blank', 'map link opens safely in a new tab');
  const dl = page.getByTestId('attachment-download').first();
  check((await dl.getAttribute('download')) === 'receipt-2026-01-14.pdf' && (await dl.getAttribute('target')) === null, 'file card: a download link, not a new tab');
  check((await page.locator('[data-state="fetching"]').textContent()).includes('Fetching file'), 'a file without a link yet: "Fetching file…"');
  check((await page.getByTestId('attachment-note').textContent()).includes('20 MB'), 'the note shows');

  const timeline = page.getByTestId('timeline');
  const shoot = async (name, testid) => {
    const el = page.locator(`[data-testid="message"]:has([data-testid="${testid}"])`).first();
    await el.scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(out, name) });
  };
  await timeline.evaluate((el) => (el.scrollTop = 0));
  await page.screenshot({ path: join(out, 'dashboard-image-and-file.png') });
  await shoot('dashboard-album.png', 'album');
  await shoot('dashboard-location.png', 'location-coords');
  await page.getByTestId('edited').click();
  await shoot('dashboard-edited-contact-poll.png', 'edit-history');
  await timeline.evaluate((el) => (el.scrollTop = el.scrollHeight));
  await page.screenshot({ path: join(out, 'dashboard-bottom.png') });

  // Lightbox: keyboard open, Esc closes, focus comes back.
  await timeline.evaluate((el) => (el.scrollTop = 0));
  const thumb = page.locator('.att-single .att-thumb').first();
  await thumb.focus();
  await page.keyboard.press('Enter');
  await page.getByTestId('lightbox').waitFor({ timeout: 2000 });
  await page.waitForFunction(() => document.querySelector('[data-testid="lightbox-image"]')?.naturalWidth > 0);
  await page.screenshot({ path: join(out, 'dashboard-lightbox.png') });
  await page.keyboard.press('Escape');
  await page.getByTestId('lightbox').waitFor({ state: 'detached', timeout: 2000 });
  check(await thumb.evaluate((el) => el === document.activeElement), 'lightbox: Esc closes it and focus returns to the thumbnail');
  await page.locator('.att-album .att-thumb').nth(1).click();
  await page.getByTestId('lightbox').click({ position: { x: 5, y: 5 } });
  await page.getByTestId('lightbox').waitFor({ state: 'detached', timeout: 2000 });
  check(true, 'lightbox: a click beside the picture closes it');

  // Composer: the limit, files from the picker, a pasted screenshot, one refused as too large.
  check((await page.getByTestId('limit-hint').textContent()).includes('Up to 50 MB per file on Telegram · 10 files'), 'the limit is shown before any upload');
  await page.getByTestId('file-input').setInputFiles([
    { name: 'invoice.pdf', mimeType: 'application/pdf', buffer: Buffer.alloc(120_000, 1) },
    { name: 'box.png', mimeType: 'image/png', buffer: makePng(120, 90, 300) },
  ]);
  await page.getByTestId('composer').focus();
  await page.evaluate((bytes) => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array(bytes)], 'image.png', { type: 'image/png' }));
    document.querySelector('[data-testid="composer"]').dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
  }, [...makePng(160, 100, 90)]);
  await page.evaluate(() => {
    const dt = new DataTransfer();
    const big = new File([new Uint8Array(1)], 'huge.iso', { type: 'application/octet-stream' });
    Object.defineProperty(big, 'size', { value: 60 * 1024 * 1024 });
    dt.items.add(big);
    const pane = document.querySelector('[data-testid="conversation"]');
    pane.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt, bubbles: true, cancelable: true }));
    pane.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
  // Text pasted from an office app with a picture of itself: the text, no file.
  const textPasteTaken = await page.evaluate(() => {
    const dt = new DataTransfer();
    dt.setData('text/plain', 'a cell');
    dt.items.add(new File([new Uint8Array([1])], 'image.png', { type: 'image/png' }));
    const ev = new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true });
    document.querySelector('[data-testid="composer"]').dispatchEvent(ev);
    return ev.defaultPrevented;
  });
  check(!textPasteTaken, 'a paste with text is left to the text box');
  await page.getByTestId('composer').fill('Here are the documents');
  const names = await page.getByTestId('tray-file').evaluateAll((els) => els.map((e) => e.getAttribute('data-name')));
  check(names.length === 3 && names[0] === 'invoice.pdf' && names[1] === 'box.png' && /^screenshot-\d{8}-\d{6}\.png$/.test(names[2]), `tray: picked + pasted (${names.join(', ')})`);
  check((await page.getByTestId('tray-error').textContent()).includes('huge.iso'), 'an oversized drop is refused with the reason');
  await page.screenshot({ path: join(out, 'composer-pending-files.png') });
  // The drop zone while dragging.
  await page.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['x'], 'a.txt', { type: 'text/plain' }));
    document.querySelector('[data-testid="timeline"]').dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
  await page.getByTestId('dropzone').waitFor({ timeout: 2000 });
  await page.screenshot({ path: join(out, 'composer-dropzone.png') });

  // The e-mail conversation.
  await page.getByTestId('conversation-item').filter({ hasText: 'Bob Miller' }).click();
  await page.getByTestId('email-subject').first().waitFor({ timeout: 5000 });
  const subjects = await page.getByTestId('email-subject').allTextContents();
  check(subjects.join(' | ') === 'Refund for order #1024 | New delivery address', `subject lines where the thread starts and changes: ${subjects.join(' | ')}`);
  check((await page.getByTestId('email-reply-to').textContent()) === 'Replying by e-mail to bob@customer.org', 'the composer names the address');
  check((await page.getByTestId('unreachable').textContent()).includes('mailbox full'), 'the bounce warns above the composer');
  await page.getByTestId('timeline').evaluate((el) => (el.scrollTop = 0));
  await page.screenshot({ path: join(out, 'email-conversation.png') });
  await page.getByTestId('quoted-toggle').first().click();
  await page.getByTestId('timeline').evaluate((el) => (el.scrollTop = el.scrollHeight));
  await page.screenshot({ path: join(out, 'email-quote-open-bottom.png') });
  await page.getByTestId('email-formatted').click();
  const inside = page.frameLocator('[data-testid="email-frame"]');
  await inside.locator('b').waitFor({ timeout: 3000 });
  check(await inside.locator('img').evaluate((img) => img.naturalWidth === 0), 'a remote picture in the formatted mail is not fetched');
  await page.screenshot({ path: join(out, 'email-formatted.png') });
  await page.keyboard.press('Escape');

  // Translation: a Russian conversation read in English, held replies, the composer's preview.
  await page.getByTestId('conversation-item').filter({ hasText: 'Olga P' }).click();
  await page.getByTestId('translation-line').first().waitFor({ timeout: 5000 });
  check((await page.getByTestId('translation-line').first().textContent()) === 'Translated from Russian · DeepL · Show original', 'a translated message says from what and by whom');
  check((await page.getByTestId('translation-quota').textContent()) === 'Daily translation quota reached for DeepL', 'the quota notice shows');
  check((await page.getByRole('combobox', { name: "Customer's language" }).inputValue()) === 'ru', "the header select holds the customer's language");
  await page.getByTestId('composer').fill('Thanks, we will answer soon.');
  await page.getByTestId('translation-preview-text').waitFor({ timeout: 3000 });
  await page.getByTestId('timeline').evaluate((el) => (el.scrollTop = el.scrollHeight));
  await page.screenshot({ path: join(out, 'translation-conversation.png') });
  await page.getByRole('button', { name: 'Show original' }).first().click();
  check((await page.getByTestId('message-text').first().textContent()) === 'Здравствуйте! Моя посылка пришла повреждённой.', '"Show original" swaps in the original');
  await page.getByRole('button', { name: 'Send original' }).click();
  await page.getByTestId('translation-held').waitFor({ state: 'detached', timeout: 3000 });
  check(true, '"Send original" releases the held reply');
  await page.getByRole('button', { name: 'My languages' }).click();
  await page.getByRole('dialog', { name: 'My languages' }).waitFor({ timeout: 2000 });
  await page.screenshot({ path: join(out, 'translation-my-languages.png') });
  await page.keyboard.press('Escape');
  // A phone: the same conversation at 390 px.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.getByTestId('timeline').evaluate((el) => (el.scrollTop = el.scrollHeight));
  await page.screenshot({ path: join(out, 'translation-phone.png') });
  check(!(await page.getByTestId('conversation-list').isVisible()), 'a phone shows the open conversation alone');
  await page.getByRole('button', { name: 'My languages' }).click();
  await page.screenshot({ path: join(out, 'translation-my-languages-phone.png') });
  await page.keyboard.press('Escape');
  await page.getByRole('button', { name: 'Back to the conversations' }).click();
  check(await page.getByTestId('conversation-list').isVisible(), 'and back to the list with ←');
  await page.screenshot({ path: join(out, 'phone-list.png') });
  await page.setViewportSize({ width: 1280, height: 900 });
  check(errors.length === 0, `no page errors ${errors.join(' | ')}`);
} finally {
  await browser.close();
  server.close();
}
console.log(`screenshots in ${out}`);
process.exit(failures.length ? 1 : 0);
