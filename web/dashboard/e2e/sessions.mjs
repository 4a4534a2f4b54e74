// Browser scenarios of staying signed in: the access token lives in the page's memory only and
// for seconds here, the refresh token in an HttpOnly cookie. A reload and a second tab open
// signed in (a neutral "Signing in…" first, never the sign-in form); no Web Storage holds the
// token and script cannot read the cookie; an expired token is renewed without the agent
// noticing (the draft stays, the action goes through), also by itself while the dashboard is
// idle; a session ended on another device goes to the sign-in page saying so, and the draft
// survives signing in again; a server out of reach at start is said so and tried again. They run
// inside e2e/run.mjs (its server and browser) right after the server-restart scenario, on Ann's
// page open on a conversation:
//
//   import { sessionScenarios } from './sessions.mjs';
//   await sessionScenarios({ page, context, restartServer, apiLogin, agentApi, … });
//
// `restartServer(extraEnv)` restarts the one server with `extraEnv` added to its environment
// (`{}`: as at the start). These scenarios run it with OMNIDESK_TOKEN_TTL_SECS=3, so tokens
// expire within each scenario and are renewed all along; the scenarios after them get the
// default lifetime back.

import { join } from 'node:path';

export const SESSION_SCENARIOS = [
  'a reload keeps the agent signed in on the same conversation ("Signing in…", never the sign-in form); the refresh cookie is HttpOnly and no Web Storage holds the access token',
  'an expired access token is renewed silently: by itself while idle, and on a 401 token_expired; no sign-in page, the draft stays, the action succeeds',
  'a second tab in the same browser opens signed in; both tabs keep renewing (one at a time) and stay signed in',
  'a session ended on another device sends the agent to the sign-in page saying so, and the draft survives signing in again',
  'the server out of reach at start: the page says so and tries again (no sign-in form, no blank page); once it answers, Retry now signs in',
];

/** Seconds an access token lives in these scenarios. */
const TTL_SECS = 3;
const DRAFT = 'A draft I am still typing';
const isRefresh = (r) => new URL(r.url()).pathname === '/api/v1/auth/refresh';

/** Every key and value of the page's localStorage and sessionStorage, as one string. */
const webStorage = (p) =>
  p.evaluate(() =>
    [localStorage, sessionStorage]
      .flatMap((s) => Array.from({ length: s.length }, (_, i) => `${s.key(i)}=${s.getItem(s.key(i))}`))
      .join('\n'),
  );

/** Records the agent API's answers in `p`: `{path, status, code, token}` (token: of a sign-in or refresh). */
function watchAnswers(p) {
  const seen = [];
  const on = async (r) => {
    const path = new URL(r.url()).pathname;
    if (!path.startsWith('/api/v1/')) return;
    const entry = { path, status: r.status(), code: null, token: null };
    seen.push(entry);
    try {
      const body = await r.json();
      entry.code = body?.error?.code ?? null;
      if (typeof body?.token === 'string') entry.token = body.token;
    } catch {
      /* no JSON body (204) */
    }
  };
  p.on('response', on);
  return { seen, stop: () => p.off('response', on) };
}

export async function sessionScenarios(ctx) {
  const { page, context, base, results, test, assert, waitFor, sleep, restartServer, apiLogin, agentApi } = ctx;
  const answers = watchAnswers(page);
  // Whether the sign-in form ever showed in Ann's page since the last `sawLogin(false)`: set by
  // an observer that every load of the page starts, so a flash of the form is caught too.
  await page.addInitScript(() => {
    if (window !== window.top) return;
    new MutationObserver(() => {
      if (document.querySelector('[data-testid="login-form"]')) window.__sawLogin = true;
    }).observe(document, { childList: true, subtree: true });
  });
  await restartServer({ OMNIDESK_TOKEN_TTL_SECS: String(TTL_SECS) });
  try {
    await test(SESSION_SCENARIOS[0], async () => {
      const open = await page.getByTestId('conversation').getAttribute('data-id');
      assert(open, 'a conversation is open');
      // The first refresh held back a little: the splash must show meanwhile, not the form.
      let held = 0;
      await page.route('**/api/v1/auth/refresh', async (route) => {
        if (held++ === 0) await sleep(600);
        await route.continue();
      });
      try {
        await page.reload();
        await page.getByTestId('resuming').waitFor({ timeout: 3000 });
        assert((await page.getByTestId('resuming').textContent()).includes('Signing in…'), 'the splash says "Signing in…"');
        await page.screenshot({ path: join(results, '04a-signing-in.png') });
        await page.getByTestId('conversation').and(page.locator(`[data-id="${open}"]`)).waitFor({ timeout: 10000 });
      } finally {
        await page.unroute('**/api/v1/auth/refresh');
      }
      await page.getByTestId('link').and(page.locator('[data-state="open"]')).waitFor({ timeout: 10000 });
      assert((await page.evaluate(() => window.__sawLogin === true)) === false, 'the sign-in form never showed');
      assert((await page.getByTestId('conversation-item').count()) > 0, 'the list is there');
      await page.screenshot({ path: join(results, '04a-reloaded-signed-in.png') });

      // The cookie: there, HttpOnly, SameSite=Strict, only for /api/v1/auth; script cannot read it.
      const cookie = (await context.cookies()).find((c) => c.name === 'omnidesk_refresh');
      assert(cookie, 'the browser holds the refresh cookie');
      assert(cookie.httpOnly && cookie.sameSite === 'Strict' && cookie.path === '/api/v1/auth', `the cookie: ${JSON.stringify({ ...cookie, value: '…' })}`);
      const visible = await page.evaluate(() => document.cookie);
      assert(!visible.includes('omnidesk_refresh') && !visible.includes(cookie.value), `document.cookie shows no refresh token: ${JSON.stringify(visible)}`);
      // No Web Storage holds a token the page was given, nor the old session key.
      const tokens = answers.seen.filter((a) => a.token).map((a) => a.token);
      assert(tokens.length > 0, 'the page was given access tokens');
      const stored = await webStorage(page);
      assert(!stored.includes('omnidesk.session'), 'no omnidesk.session key');
      assert(!tokens.some((t) => stored.includes(t)) && !stored.includes(cookie.value), 'no Web Storage holds a token');
    });

    await test(SESSION_SCENARIOS[1], async () => {
      await page.getByTestId('conversation').waitFor({ timeout: 5000 });
      await page.getByTestId('composer').fill(DRAFT);
      await page.evaluate(() => (window.__sawLogin = false));
      // Idle: the dashboard renews by itself (no click, no request of ours).
      const mark = answers.seen.length;
      await waitFor(() => answers.seen.slice(mark).some((a) => a.path === '/api/v1/auth/refresh' && a.status === 200), (TTL_SECS + 5) * 1000, 'a renewal while idle');
      // Then wait until that token has expired (the next renewal is due 5 s after the last): the
      // next request is refused with token_expired and must be renewed and sent again.
      await sleep(TTL_SECS * 1000 + 400);
      const before = answers.seen.length;
      await page.getByTestId('tag-input').fill('renewed');
      await page.getByTestId('tag-input').press('Enter');
      await page.getByTestId('tags').getByText('renewed').waitFor({ timeout: 5000 });
      const after = answers.seen.slice(before);
      assert(after.some((a) => a.status === 401 && a.code === 'token_expired'), `a request met an expired token: ${JSON.stringify(after.map((a) => [a.path, a.status, a.code]))}`);
      assert(after.some((a) => a.path === '/api/v1/auth/refresh' && a.status === 200), 'and it was renewed');
      assert(after.some((a) => /^\/api\/v1\/contacts\//.test(a.path) && a.status === 200), 'the tag was saved');
      assert((await page.getByTestId('composer').inputValue()) === DRAFT, 'the draft is kept');
      assert((await page.getByTestId('login-form').count()) === 0 && !(await page.evaluate(() => window.__sawLogin)), 'no sign-in page');
      const failedRefresh = answers.seen.slice(mark).filter((a) => a.path === '/api/v1/auth/refresh' && a.status !== 200);
      assert(failedRefresh.length === 0, `no refresh refused: ${JSON.stringify(failedRefresh)}`);
      // Put the contact's tags back as they were.
      await page.getByRole('button', { name: 'remove renewed' }).click();
      await page.getByTestId('tags').getByText('renewed').waitFor({ state: 'detached', timeout: 5000 });
    });

    await test(SESSION_SCENARIOS[2], async () => {
      const tab = await context.newPage();
      tab.on('pageerror', (e) => ctx.pageErrors.push(`[second tab] ${e}`));
      const second = watchAnswers(tab);
      try {
        await tab.goto(base);
        await tab.getByTestId('account').waitFor({ timeout: 10000 });
        await tab.getByTestId('link').and(tab.locator('[data-state="open"]')).waitFor({ timeout: 10000 });
        assert((await tab.getByTestId('login-form').count()) === 0, 'no sign-in form in the second tab');
        await tab.screenshot({ path: join(results, '04b-second-tab.png') });
        // Both tabs renew from the one cookie jar for a while, each twice at least (each refresh
        // token works once: a tab that sent one the other had used would be signed out).
        const mark = answers.seen.length;
        const ok = (seen, from = 0) => seen.slice(from).filter((a) => a.path === '/api/v1/auth/refresh' && a.status === 200).length;
        await waitFor(() => ok(answers.seen, mark) >= 2 && ok(second.seen) >= 3, 4 * (TTL_SECS + 5) * 1000, 'two renewals in each tab');
        const refusedRefresh = [...answers.seen.slice(mark), ...second.seen].filter((a) => a.path === '/api/v1/auth/refresh' && a.status !== 200);
        assert(refusedRefresh.length === 0, `no refresh refused: ${JSON.stringify(refusedRefresh)}`);
        // Both still work.
        await tab.getByTestId('tab-all').click();
        await tab.getByTestId('conversation-item').first().waitFor({ timeout: 5000 });
        await page.getByTestId('tab-all').click();
        await page.getByTestId('conversation-item').first().waitFor({ timeout: 5000 });
        for (const p of [page, tab]) assert((await p.getByTestId('login-form').count()) === 0, 'still signed in');
      } finally {
        second.stop();
        await tab.close();
      }
    });

    await test(SESSION_SCENARIOS[3], async () => {
      await page.getByTestId('conversation').waitFor({ timeout: 5000 });
      assert((await page.getByTestId('composer').inputValue()) === DRAFT, 'the draft is there');
      // Ann signs out on another device: every session of hers ends, this browser's too.
      const elsewhere = await apiLogin();
      const r = await fetch(new URL('/api/v1/auth/logout', base), { method: 'POST', headers: { authorization: `Bearer ${elsewhere.token}` } });
      assert(r.status === 204, `signed out elsewhere: ${r.status}`);
      await page.getByTestId('tab-all').click({ timeout: 2000 }).catch(() => {}); // may have gone already (its renewal was refused)
      const notice = page.locator('[data-testid="session-expired"][data-code="session_ended"]');
      await notice.waitFor({ timeout: 10000 });
      assert((await notice.textContent()).startsWith('Your session ended — sign in again.'), `the notice: ${await notice.textContent()}`);
      await page.screenshot({ path: join(results, '04c-session-ended.png') });
      await page.getByTestId('password').fill(ctx.password);
      await page.getByTestId('login').click();
      await page.getByTestId('conversation').waitFor({ timeout: 10000 });
      assert((await page.getByTestId('composer').inputValue()) === DRAFT, 'the draft survived');
      // Agent API calls from here on sign in again by themselves (agentApi).
      assert((await agentApi('GET', '/api/v1/agents/me')).status === 200, 'the API helper signs in again');
    });

    await test(SESSION_SCENARIOS[4], async () => {
      await page.evaluate(() => (window.__sawLogin = false));
      await page.route('**/api/v1/auth/refresh', (route) => route.abort('connectionrefused'));
      try {
        await page.reload();
        const down = page.getByTestId('unreachable');
        await down.waitFor({ timeout: 5000 });
        const said = await down.textContent();
        assert(said.includes('Cannot reach the server to sign you in.') && /Trying again in \d+ s…/.test(said), `what it says: ${said}`);
        assert((await down.getAttribute('role')) === 'alert', 'announced');
        await page.screenshot({ path: join(results, '04d-unreachable.png') });
      } finally {
        await page.unroute('**/api/v1/auth/refresh');
      }
      await page.getByTestId('unreachable-retry').click();
      await page.getByTestId('conversation').waitFor({ timeout: 10000 });
      assert((await page.getByTestId('composer').inputValue()) === DRAFT, 'the draft is still there');
      assert(!(await page.evaluate(() => window.__sawLogin)), 'the sign-in form never showed');
      // Leave the composer empty for the scenarios after these.
      await page.getByTestId('composer').fill('');
    });
  } finally {
    answers.stop();
    // The other scenarios run with the default lifetime. The page's short-lived token is renewed
    // into a long one by itself after the restart.
    await restartServer({});
    await page.getByTestId('link').and(page.locator('[data-state="open"]')).waitFor({ timeout: 15000 }).catch(() => {});
  }
}
