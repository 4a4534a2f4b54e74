// Browser scenarios of the agent tools (issue 13): a canned response inserted with `/` and sent, a
// private note whose @mention reaches another agent's dashboard, and the customer's CSAT after a
// resolve, in the conversation and on the reports page. They run inside e2e/run.mjs (its server,
// fake Telegram and browser); nothing here starts a server. Register them in main() after the
// e-mail scenarios (before translation and AI, which restart the server):
//
//   import { toolsScenarios } from './tools.mjs';
//   await toolsScenarios({
//     browser, page, base, port, results, test, skip, assert, waitFor, sleep, postUpdate, sends, agentApi,
//     botId: BOT_ID, webhookSecret: WEBHOOK_SECRET, password: PASSWORD, pageErrors, watchCsp,
//     agents: { ann: { email: EMAIL, name: 'Ann Agent' }, bob: { email: 'bob@example.com', name: 'Bob Agent' } },
//   });
//
// `page` is Ann's, signed in (the first scenario of run.mjs did it). Bob gets a browser context of
// his own and, at the end, chooses Offline (so later scenarios' conversations still go to Ann);
// `watchCsp(context, who)` (optional) records the CSP violations of his pages with run.mjs's.
//
// env OMNIDESK_E2E_TOOLS: unset: run when the server has the routes (GET /api/v1/canned and
// GET /api/v1/reports/summary answer), else skip them with the reason; 1: run regardless (a
// missing piece fails them); 0: skip.

import { join } from 'node:path';

const CORA = { id: 5301, first_name: 'Cora', language_code: 'en' };
const CANNED = { shortcut: 'greet-e2e', text: 'Hi {customer_name}, this is {agent_name}. Your parcel ships today.' };
export const TOOLS_SCENARIOS = [
  'canned response: created in the view, "/" inserts it with the placeholders filled, Enter sends exactly that to the customer',
  'private note with an @mention: never sent to the customer, shown as a note, and the mentioned agent gets a toast and the bell',
  'CSAT: after a resolve the customer presses csat:5 on Telegram; the stars show in the conversation and the rating in the reports',
];

/** The customer's conversation the three scenarios share (created by the first that needs it). */
const shared = { conversationId: null, displayName: null };

function fill(text, vars) {
  return text.replace(/\{(customer_name|agent_name)\}/g, (_, k) => vars[k]);
}

let callbackSeq = 0;
/** A Telegram update other than a message (a button press), as the webhook receives it. */
async function postRawUpdate(ctx, fields) {
  const body = { update_id: 900_000 + ++callbackSeq, ...fields };
  const r = await fetch(`http://127.0.0.1:${ctx.port}/telegram/${ctx.botId}/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': ctx.webhookSecret },
    body: JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`webhook answered ${r.status}: ${await r.text()}`);
}

async function loginApi(ctx, email) {
  const r = await fetch(`http://127.0.0.1:${ctx.port}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: ctx.password }),
  });
  if (!r.ok) throw new Error(`login ${email} answered ${r.status}`);
  return r.json();
}

async function apiAs(ctx, token, method, path, body) {
  const r = await fetch(`http://127.0.0.1:${ctx.port}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = text;
  }
  return { status: r.status, body: json };
}

/** Why the tools' server side looks absent (no such route), or null. */
export async function toolsMissing(agentApi) {
  const missing = (r) => r.status === 405 || r.status === 501 || (r.status === 404 && r.body?.error?.code !== 'not_found');
  const canned = await agentApi('GET', '/api/v1/canned');
  if (missing(canned)) return `GET /api/v1/canned answered ${canned.status}`;
  const report = await agentApi('GET', '/api/v1/reports/summary?group_by=agent');
  if (missing(report)) return `GET /api/v1/reports/summary answered ${report.status}`;
  return null;
}

/** Cora writes on Telegram (once); her conversation is opened in Ann's dashboard. */
async function openCora(ctx) {
  const { page, assert, waitFor, agentApi } = ctx;
  if (!shared.conversationId) {
    const text = 'Hi, any news on my parcel? (tools e2e)';
    await ctx.postUpdate(text, CORA);
    const found = await waitFor(async () => {
      const r = await agentApi('GET', '/api/v1/conversations?limit=100');
      return r.status === 200 && r.body.items.find((c) => c.last_message?.text === text);
    }, 5000, "Cora's conversation on the server");
    shared.conversationId = found.id;
    shared.displayName = found.contact.display_name;
    assert(shared.displayName.includes('Cora'), `the contact is named after Telegram's first name: ${shared.displayName}`);
  }
  await page.getByTestId('nav-conversations').click();
  await page.getByTestId('tab-all').click();
  const item = page.locator(`[data-testid="conversation-item"][data-id="${shared.conversationId}"]`);
  await item.waitFor({ timeout: 5000 });
  await item.click();
  await page.locator(`[data-testid="conversation"][data-id="${shared.conversationId}"]`).waitFor({ timeout: 3000 });
  const c = (await agentApi('GET', `/api/v1/conversations/${shared.conversationId}`)).body;
  if (c.status !== 'assigned' || c.assignee_id !== (await agentApi('GET', '/api/v1/agents/me')).body.id) {
    await page.getByTestId('assign-me').click();
    await page.getByTestId('conversation-status').and(page.locator('[data-status="assigned"]')).waitFor({ timeout: 3000 });
  }
}

/** Scenario 1: a canned response made in the view, inserted with `/`, sent to the customer. */
export async function cannedScenario(ctx) {
  const { page, test, assert, waitFor, agentApi, sends, results, agents } = ctx;
  await test(TOOLS_SCENARIOS[0], async () => {
    // Connected and not chosen otherwise: the status control says Online.
    await waitFor(async () => (await page.getByTestId('my-status').inputValue()) === 'online', 5000, 'my status shows online');

    // The management view: add the response.
    await page.getByTestId('nav-canned').click();
    await page.getByTestId('canned-manager').waitFor({ timeout: 3000 });
    await page.getByTestId('canned-add').click();
    await page.getByTestId('canned-shortcut').fill(CANNED.shortcut);
    await page.getByTestId('canned-text').fill(CANNED.text);
    await page.getByTestId('canned-save').click();
    const entry = page.locator(`[data-testid="canned-entry"][data-shortcut="${CANNED.shortcut}"]`);
    await entry.waitFor({ timeout: 3000 });
    const stored = (await agentApi('GET', '/api/v1/canned')).body.find((c) => c.shortcut === CANNED.shortcut);
    assert(stored && stored.text === CANNED.text, `stored raw, placeholders unfilled: ${JSON.stringify(stored)}`);
    await page.screenshot({ path: join(results, '40-canned-view.png') });

    await openCora(ctx);
    const expected = fill(CANNED.text, { customer_name: shared.displayName, agent_name: agents.ann.name });
    const composer = page.getByTestId('composer');
    await composer.click();
    await composer.fill('');
    // `/` opens the list; Esc closes it and leaves the text.
    await composer.type('/');
    await page.getByTestId('canned-picker').waitFor({ timeout: 3000 });
    await composer.press('Escape');
    await page.getByTestId('canned-picker').waitFor({ state: 'detached', timeout: 2000 });
    assert((await composer.inputValue()) === '/', 'Esc keeps the text');
    assert(await composer.evaluate((el) => el === document.activeElement), 'Esc keeps the focus in the reply box');
    await composer.fill('');
    // Typing filters; the option shows the filled text; Enter inserts (and sends nothing).
    await composer.type('/greet-e');
    const option = page.locator(`[data-testid="canned-option"][data-key="${CANNED.shortcut}"]`);
    await option.waitFor({ timeout: 3000 });
    assert((await option.textContent()).includes(expected), `the option previews the filled text: ${await option.textContent()}`);
    assert((await option.getAttribute('aria-selected')) === 'true', 'the first match is highlighted');
    await page.screenshot({ path: join(results, '41-canned-picker.png') });
    const before = sends.length;
    await composer.press('Enter');
    await page.getByTestId('canned-picker').waitFor({ state: 'detached', timeout: 2000 });
    assert((await composer.inputValue()) === expected, `inserted and filled: ${await composer.inputValue()}`);
    assert(sends.length === before, 'inserting sent nothing');
    // Enter again sends it: the customer receives exactly the filled text.
    await composer.press('Enter');
    const sent = await waitFor(() => sends.slice(before).find((s) => s.text === expected), 5000, 'the filled reply at the fake Telegram');
    assert(String(sent.chat_id) === String(CORA.id), `sent to Cora's chat, got ${sent.chat_id}`);
    assert(!sends.slice(before).some((s) => /\{(customer|agent)_name\}/.test(s.text ?? '')), 'no placeholder reached the customer');
    const shown = page.getByTestId('message').filter({ hasText: expected }).and(page.locator('[data-status="sent"]'));
    await shown.waitFor({ timeout: 5000 });
    assert((await shown.getByTestId('message-text').textContent()) === expected, 'the timeline shows the filled text');
    await page.screenshot({ path: join(results, '42-canned-sent.png') });
  });
}

/** Scenario 2: a private note @mentioning Bob; Bob, signed in elsewhere, is notified. */
export async function mentionScenario(ctx) {
  const { browser, page, base, test, assert, waitFor, agentApi, sends, results, agents } = ctx;
  await test(TOOLS_SCENARIOS[1], async () => {
    // Bob signs in in a browser context of his own.
    const bobContext = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    try {
      await ctx.watchCsp?.(bobContext, 'Bob');
      const bob = await bobContext.newPage();
      const bobErrors = [];
      bob.on('pageerror', (e) => bobErrors.push(String(e)));
      await bob.goto(base);
      await bob.getByTestId('email').fill(agents.bob.email);
      await bob.getByTestId('password').fill(ctx.password);
      await bob.getByTestId('login').click();
      await bob.getByTestId('link').and(bob.locator('[data-state="open"]')).waitFor({ timeout: 5000 });
      // He opens where the work is: Mine if anything is assigned to him, else Unassigned.
      const bobToken = (await loginApi(ctx, agents.bob.email)).token;
      await waitFor(async () => {
        const mine = await apiAs(ctx, bobToken, 'GET', '/api/v1/conversations?assignee=me&status=assigned&limit=1');
        const want = mine.body.items.length > 0 ? 'tab-mine' : 'tab-unassigned';
        return (await bob.getByTestId(want).getAttribute('aria-selected')) === 'true';
      }, 5000, "Bob's list on the tab that holds his work");
      await waitFor(async () => (await bob.getByTestId('my-status').inputValue()) === 'online', 5000, "Bob's status shows online once connected");

      await openCora(ctx);
      await page.getByTestId('mode-note').click();
      assert((await page.getByTestId('mode-note').getAttribute('aria-pressed')) === 'true', 'Note mode on');
      const composer = page.getByTestId('composer');
      await composer.fill('');
      await composer.type('Please double-check the refund ');
      await composer.type('@bo');
      const option = page.getByTestId('mention-option').filter({ hasText: agents.bob.name });
      await option.waitFor({ timeout: 3000 });
      const handle = agents.bob.email.split('@')[0];
      assert((await option.getAttribute('data-key')) !== null && (await option.textContent()).startsWith(`@${handle}`), `offers @${handle}: ${await option.textContent()}`);
      await page.screenshot({ path: join(results, '43-mention-picker.png') });
      await composer.press('Enter');
      assert((await composer.inputValue()) === `Please double-check the refund @${handle} `, `the mention inserted: ${await composer.inputValue()}`);
      await composer.type('before noon.');
      const note = `Please double-check the refund @${handle} before noon.`;
      await page.getByTestId('will-notify').filter({ hasText: agents.bob.name }).waitFor({ timeout: 2000 });
      const before = sends.length;
      await composer.press('Enter');

      // Ann: a private note in the timeline, nothing at the customer.
      const shown = page.locator('[data-testid="message"][data-note="private"]').filter({ hasText: note });
      await shown.waitFor({ timeout: 5000 });
      // Bob (straight away: a toast lasts seconds): a toast and the bell; the toast opens the
      // conversation with the note in it.
      const toast = bob.getByTestId('toast');
      await toast.waitFor({ timeout: 5000 });
      const toastText = await toast.textContent();
      assert(toastText.includes(`mentioned you in ${shared.displayName}`) && toastText.includes(agents.ann.name.split(' ')[0]), `toast: ${toastText}`);
      assert((await bob.getByTestId('bell-count').textContent()) === '1', 'one unread on the bell');
      await bob.screenshot({ path: join(results, '45-mention-toast.png') });
      await toast.locator('.toast-open').click();
      await bob.locator(`[data-testid="conversation"][data-id="${shared.conversationId}"]`).waitFor({ timeout: 5000 });
      await bob.locator('[data-testid="message"][data-note="private"]').filter({ hasText: note }).waitFor({ timeout: 5000 });
      assert((await bob.getByTestId('bell-count').count()) === 0, 'read once opened');
      await bob.getByTestId('bell').click();
      await bob.getByTestId('notification').filter({ hasText: `mentioned you in ${shared.displayName}` }).waitFor({ timeout: 2000 });
      await bob.keyboard.press('Escape');

      // Ann: the note's look, the agents it notified, nothing at the customer.
      assert((await shown.getByTestId('internal-note').textContent()).includes('Private note'), 'labelled Private note');
      assert((await shown.getByTestId('delivery').count()) === 0, 'no delivery state on a note');
      assert((await shown.locator('mark.mention').textContent()) === `@${handle}`, 'the mention is marked');
      await page.getByTestId('note-status').filter({ hasText: agents.bob.name }).waitFor({ timeout: 3000 });
      assert((await composer.inputValue()) === '', 'the note composer is cleared');
      const stored = (await agentApi('GET', `/api/v1/conversations/${shared.conversationId}/messages?limit=50`)).body.items.find((m) => m.text === note);
      assert(stored && stored.internal === true, `stored as internal: ${JSON.stringify(stored)}`);
      await ctx.sleep(1000);
      assert(!sends.slice(before).some((s) => (s.text ?? '').includes('double-check the refund')), 'the note never reached the fake Telegram');
      await page.screenshot({ path: join(results, '44-private-note.png') });
      await page.getByTestId('mode-reply').click();

      // Bob goes Offline by choice (later scenarios' customers go to Ann).
      await bob.getByTestId('my-status').selectOption('offline');
      await waitFor(async () => (await apiAs(ctx, bobToken, 'GET', '/api/v1/agents/me')).body.status === 'offline', 3000, 'Bob offline on the server');
      await waitFor(async () => (await bob.getByTestId('my-status').getAttribute('data-chosen')) === 'true', 3000, 'shown as his choice');
      assert((await bob.getByTestId('my-status').inputValue()) === 'offline', 'his control says Offline');
      assert(bobErrors.length === 0, `Bob's page errors: ${bobErrors.join(' | ')}`);
    } finally {
      await bobContext.close();
    }
  });
}

/** Scenario 3: resolve, the customer rates 5 on Telegram, the rating in the conversation and the reports. */
export async function csatScenario(ctx) {
  const { page, test, assert, waitFor, agentApi, sends, results } = ctx;
  await test(TOOLS_SCENARIOS[2], async () => {
    await openCora(ctx);
    const before = sends.length;
    await page.getByTestId('resolve').click();
    await page.getByTestId('conversation-status').and(page.locator('[data-status="resolved"]')).waitFor({ timeout: 3000 });
    // The server asks the customer (inline buttons csat:1…csat:5); wait for it, but press anyway.
    const hasCsat = (s) => String(s.chat_id) === String(CORA.id) && JSON.stringify(s.reply_markup ?? '').includes('csat:');
    const prompt = await waitFor(() => sends.slice(before).find(hasCsat), 5000, 'the CSAT question at the fake Telegram').catch(() => null);
    if (!prompt) console.log('       note: no CSAT question with csat: buttons reached the fake Telegram; pressing csat:5 anyway');
    const when = Math.floor(Date.now() / 1000);
    await postRawUpdate(ctx, {
      callback_query: {
        id: `cbq-${Date.now()}`,
        from: { id: CORA.id, is_bot: false, first_name: CORA.first_name, language_code: CORA.language_code },
        message: { message_id: 1, date: when, chat: { id: CORA.id, type: 'private', first_name: CORA.first_name }, text: prompt?.text ?? 'How did we do?' },
        chat_instance: `ci-${CORA.id}`,
        data: 'csat:5',
      },
    });
    const rated = await waitFor(async () => {
      const c = (await agentApi('GET', `/api/v1/conversations/${shared.conversationId}`)).body;
      return c.csat?.score === 5 && c;
    }, 5000, 'csat 5 on the conversation');
    assert(rated.status === 'resolved', `a rating does not reopen it: ${rated.status}`);

    // The open conversation shows it (pushed, no reload).
    const csat = page.locator(`[data-testid="conversation"][data-id="${shared.conversationId}"] [data-testid="csat"]`);
    await csat.and(page.locator('[data-score="5"]')).waitFor({ timeout: 5000 });
    assert((await csat.locator('.stars').textContent()) === '★★★★★', `five stars: ${await csat.locator('.stars').textContent()}`);
    await page.screenshot({ path: join(results, '46-csat-conversation.png') });

    // Reports: the last 7 days by agent, as the API counts them.
    await page.getByTestId('nav-reports').click();
    await page.getByTestId('report-table').waitFor({ timeout: 5000 });
    const from = await page.getByTestId('report-from').inputValue();
    const to = await page.getByTestId('report-to').inputValue();
    const today = new Date().toISOString().slice(0, 10);
    assert(to === today && from === new Date(Date.now() - 6 * 86_400_000).toISOString().slice(0, 10), `the last 7 days by default: ${from} … ${to}`);
    const api = (await agentApi('GET', `/api/v1/reports/summary?from=${from}&to=${to}&group_by=agent`)).body;
    const annId = (await agentApi('GET', '/api/v1/agents/me')).body.id;
    const mine = api.groups.find((g) => g.key === annId);
    assert(mine && mine.csat_count >= 1 && mine.csat_avg !== null, `the API counts Ann's rating: ${JSON.stringify(api)}`);
    const row = page.locator(`[data-testid="report-row"][data-key="${annId}"]`);
    await row.waitFor({ timeout: 3000 });
    assert((await row.locator('th').textContent()) === (mine.label || mine.key), `the row is labelled as the API says: ${await row.locator('th').textContent()}`);
    const cell = (r, col) => r.locator(`[data-col="${col}"]`).textContent();
    assert((await cell(row, 'csat_count')) === String(mine.csat_count), `CSAT count ${await cell(row, 'csat_count')} vs ${mine.csat_count}`);
    assert((await cell(row, 'csat_avg')) === mine.csat_avg.toFixed(1), `CSAT avg ${await cell(row, 'csat_avg')} vs ${mine.csat_avg}`);
    assert((await cell(row, 'conversations')) === String(mine.conversations), 'conversations as the API counts them');
    const total = page.getByTestId('report-total');
    assert((await cell(total, 'conversations')) === String(api.totals.conversations), 'the totals row');
    assert((await cell(total, 'csat_count')) === String(api.totals.csat_count), 'the totals row counts the ratings');
    assert(/^(—|\d+s|\d+m( \d+s)?|\d+h( \d+m)?|\d+d( \d+h)?)$/.test(await cell(row, 'first_response_avg')), `a human duration: ${await cell(row, 'first_response_avg')}`);
    await page.screenshot({ path: join(results, '47-reports.png') });

    // By channel: Telegram carries the rating too.
    await page.getByTestId('report-group').selectOption('channel');
    await page.getByTestId('report-show').click();
    await page.locator('[data-testid="report-table"][data-group-by="channel"]').waitFor({ timeout: 5000 });
    const tg = page.locator('[data-testid="report-row"][data-key="telegram"]');
    await tg.waitFor({ timeout: 3000 });
    assert(Number(await cell(tg, 'csat_count')) >= 1, 'the Telegram row counts the rating');

    // CSV: fetched with the token (not in the URL) and saved through a blob.
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 5000 }), page.getByTestId('report-csv').click()]);
    assert(/^report-.+-channel\.csv$/.test(download.suggestedFilename()), `file name: ${download.suggestedFilename()}`);
    const stream = await download.createReadStream();
    let csv = '';
    for await (const chunk of stream) csv += chunk;
    assert(csv.startsWith('key,label,conversations,resolved,first_response_avg_secs,first_response_p50_secs,resolution_avg_secs,resolution_p50_secs,csat_avg,csat_count'), `CSV header: ${csv.split('\n')[0]}`);
    assert(/^total,/m.test(csv), 'a total row');
    assert(download.url().startsWith('blob:'), `saved from a blob URL: ${download.url()}`);
    await page.getByTestId('nav-conversations').click();
  });
}

/** The three in order (they share Cora's conversation), skipped with the reason on a server without the routes. */
export async function toolsScenarios(ctx) {
  const mode = process.env.OMNIDESK_E2E_TOOLS;
  if (mode === '0') {
    for (const n of TOOLS_SCENARIOS) ctx.skip(n, 'OMNIDESK_E2E_TOOLS=0');
    return;
  }
  const why = mode === '1' ? null : await toolsMissing(ctx.agentApi);
  if (why) {
    for (const n of TOOLS_SCENARIOS) ctx.skip(n, `the agent tools have not landed in this server (${why}); OMNIDESK_E2E_TOOLS=1 runs them anyway`);
    return;
  }
  const errorMark = ctx.pageErrors?.length ?? 0;
  await cannedScenario(ctx);
  await mentionScenario(ctx);
  await csatScenario(ctx);
  if (ctx.pageErrors) {
    await ctx.test('the agent-tools scenarios raised no page error', async () => {
      const errors = ctx.pageErrors.slice(errorMark);
      ctx.assert(errors.length === 0, `page errors: ${errors.join(' | ')}`);
    });
  }
}
