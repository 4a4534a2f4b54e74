// Browser scenarios of roles and sessions: an agent (created with `--role agent`) is not offered
// the rules editor, the agents page or the reports; the admin makes them a supervisor on the
// agents page and their open dashboard goes back to the sign-in page saying the session ended,
// where they sign in again and have the reports; a password change (the old session refused, the
// new one kept across a reload by its new cookie); signing out (every device: the token held before
// is refused, the cookie is gone, a reload shows the sign-in page, the new password signs in); five
// wrong passwords lock a throwaway account and the sixth attempt says so. They run inside e2e/run.mjs (its server and browser); nothing here starts a server.
// Register them in main() last (after the AI scenarios, before the page-error and CSP checks),
// with the ctx of toolsScenarios plus `admin`:
//
//   import { rolesScenarios } from './roles.mjs';
//   await rolesScenarios({ ...ctx, admin });
//
// `page` is Ann's (the first agent: an admin), signed in. Bob (added with `--role agent`) gets a
// browser context of his own; his password is changed here (nothing after these uses it). Ann's
// own sessions are never ended (agentApi's token stays good).
//
// env OMNIDESK_E2E_ROLES: unset: run when the server has roles (GET /api/v1/agents/me has
// `role`), else skip them with the reason; 1: run regardless; 0: skip.

import { join } from 'node:path';

export const ROLES_SCENARIOS = [
  'roles: an agent (added with --role agent) signs in and is offered no rules editor, no agents page and no reports',
  "roles: the admin makes the agent a supervisor on the agents page; the agent's open dashboard returns to sign-in saying the session ended; signed in again, the reports are there",
  'account: change password (checked first; the old session is refused, the new one kept across a reload)',
  'account: sign out returns to the sign-in page, the token held before no longer works and a reload stays signed out; the new password signs in',
  'sign-in: five wrong passwords, then the sixth attempt says "too many failed sign-ins; try again in …"',
];

const NEW_PASSWORD = 'a longer secret for bob 2';
const LOCKED = { email: 'lock-me@example.com', name: 'Lock Test', password: 'locked account password' };

/** Why the server looks like it has no roles, or null. */
export async function rolesMissing(agentApi) {
  const r = await agentApi('GET', '/api/v1/agents/me');
  if (r.status !== 200) return `GET /api/v1/agents/me answered ${r.status}`;
  if (typeof r.body?.role !== 'string') return 'the agent has no role';
  return null;
}

async function me(ctx, token) {
  const r = await fetch(`http://127.0.0.1:${ctx.port}/api/v1/agents/me`, { headers: { authorization: `Bearer ${token}` } });
  const text = await r.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: r.status, body };
}

async function signIn(p, email, password) {
  await p.getByTestId('email').fill(email);
  await p.getByTestId('password').fill(password);
  await p.getByTestId('login').click();
}

/**
 * A token of the session the page's browser holds: the page trades its refresh cookie for one
 * (under the dashboard's Web Lock, so it never races the dashboard's own renewal), as the
 * dashboard's token is in its memory only. Null when the browser holds no session.
 */
const sessionToken = (p) =>
  p.evaluate(() =>
    navigator.locks.request('omnidesk-refresh', async () => {
      const r = await fetch('/api/v1/auth/refresh', { method: 'POST' });
      return r.ok ? (await r.json()).token : null;
    }),
  );

export async function rolesScenarios(ctx) {
  const { browser, page, base, results, test, skip, assert, waitFor, agentApi, agents } = ctx;
  const mode = process.env.OMNIDESK_E2E_ROLES;
  const why = mode === '0' ? 'OMNIDESK_E2E_ROLES=0' : mode === '1' ? null : await rolesMissing(agentApi);
  if (why) {
    for (const name of ROLES_SCENARIOS) skip(name, why);
    return;
  }

  const bobContext = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  await ctx.watchCsp?.(bobContext, 'Bob (roles)');
  const bob = await bobContext.newPage();
  bob.on('pageerror', (e) => ctx.pageErrors.push(`[Bob] ${e}`));
  try {
    await test(ROLES_SCENARIOS[0], async () => {
      const listed = (await agentApi('GET', '/api/v1/agents')).body.items.find((a) => a.email === agents.bob.email);
      assert(listed?.role === 'agent', `Bob is an agent on the server: ${listed?.role}`);
      await bob.goto(base);
      await signIn(bob, agents.bob.email, ctx.password);
      await bob.getByTestId('account').waitFor({ timeout: 5000 });
      assert((await bob.getByTestId('role-badge').getAttribute('data-role')) === 'agent', 'the header shows his role');
      assert((await bob.getByTestId('role-badge').textContent()) === 'Agent', 'the role badge says Agent');
      assert((await bob.getByTestId('nav-reports').count()) === 0, 'no Reports');
      assert((await bob.getByTestId('nav-agents').count()) === 0, 'no Agents page');
      await bob.screenshot({ path: join(results, '60-role-badge-agent.png') });
      // The rules: read-only for him, no editor to fail.
      await bob.getByTestId('nav-rules').click();
      await bob.locator('[data-testid="rules"][data-read-only="true"]').waitFor({ timeout: 5000 });
      assert((await bob.getByTestId('rules-source').count()) === 0 && (await bob.getByTestId('rules-save').count()) === 0, 'no rules editor');
      assert((await bob.getByTestId('rules-read-only').textContent()).includes('Only an admin may change the routing rules.'), 'says who may');
      // Saved replies: read, not changed; the button says who may.
      await bob.getByTestId('nav-canned').click();
      const add = bob.getByTestId('canned-add');
      await add.waitFor({ timeout: 3000 });
      assert(await add.isDisabled(), 'Add is disabled');
      assert((await add.getAttribute('title')) === 'Only a supervisor or an admin may change saved replies.', `tooltip: ${await add.getAttribute('title')}`);
      await bob.getByTestId('nav-conversations').click();
    });

    await test(ROLES_SCENARIOS[1], async () => {
      await page.getByTestId('nav-agents').click();
      const table = page.getByTestId('agents-table');
      await table.waitFor({ timeout: 5000 });
      const annRow = page.locator(`[data-testid="agent-row"][data-email="${agents.ann.email}"]`);
      const bobRow = page.locator(`[data-testid="agent-row"][data-email="${agents.bob.email}"]`);
      assert((await annRow.getAttribute('data-role')) === 'admin' && (await bobRow.getAttribute('data-role')) === 'agent', 'the roles listed');
      assert((await page.getByTestId('role-badge').getAttribute('data-role')) === 'admin', "Ann's badge says admin");
      await page.screenshot({ path: join(results, '61-agents-page.png') });

      // The last admin cannot demote herself: 409 last_admin, its message on her row.
      await annRow.getByTestId('agent-role').selectOption('agent');
      await page.getByTestId('agent-confirm-do').click();
      const refused = page.getByTestId('agent-error');
      await refused.waitFor({ timeout: 3000 });
      assert(/last admin/i.test(await refused.textContent()), `the server's refusal: ${await refused.textContent()}`);
      assert((await annRow.getByTestId('agent-role').inputValue()) === 'admin', 'her role stays');

      // Bob becomes a supervisor, after a confirmation.
      await bobRow.getByTestId('agent-role').selectOption('supervisor');
      await page.getByTestId('agent-question').filter({ hasText: 'Make Bob Agent a supervisor?' }).waitFor({ timeout: 2000 });
      await page.screenshot({ path: join(results, '62-agents-confirm-role.png') });
      await page.getByTestId('agent-confirm-do').click();
      await page.getByTestId('agent-done').filter({ hasText: 'Bob Agent is now a supervisor' }).waitFor({ timeout: 3000 });
      await waitFor(async () => (await agentApi('GET', '/api/v1/agents')).body.items.find((a) => a.email === agents.bob.email)?.role === 'supervisor', 3000, 'Bob a supervisor on the server');

      // His open dashboard: its next request is refused (session_ended) and it shows the sign-in page saying why.
      await bob.getByTestId('tab-all').click({ timeout: 1000 }).catch(() => {}); // already on the sign-in page: nothing to click
      const notice = bob.locator('[data-testid="session-expired"][data-code="session_ended"]');
      await notice.waitFor({ timeout: 5000 });
      assert((await notice.textContent()).startsWith('Your session ended — sign in again.'), `the notice: ${await notice.textContent()}`);
      await bob.screenshot({ path: join(results, '63-session-ended.png') });

      await signIn(bob, agents.bob.email, ctx.password);
      await bob.getByTestId('nav-reports').waitFor({ timeout: 5000 });
      assert((await bob.getByTestId('role-badge').getAttribute('data-role')) === 'supervisor', 'his badge says supervisor');
      assert((await bob.getByTestId('nav-agents').count()) === 0, 'still no Agents page');
      await bob.getByTestId('nav-reports').click();
      await bob.getByTestId('report-table').waitFor({ timeout: 5000 });
      await bob.getByTestId('nav-conversations').click();
    });

    await test(ROLES_SCENARIOS[2], async () => {
      const before = await sessionToken(bob);
      assert(before && (await me(ctx, before)).status === 200, 'signed in');
      await bob.getByTestId('account').click();
      await bob.getByTestId('account-panel').waitFor({ timeout: 2000 });
      await bob.screenshot({ path: join(results, '64-account-menu.png') });
      await bob.getByTestId('change-password').click();
      await bob.getByTestId('password-dialog').waitFor({ timeout: 2000 });
      // Checked here first: nothing is sent for a short or mistyped new password.
      await bob.getByTestId('pw-current').fill(ctx.password);
      await bob.getByTestId('pw-new').fill('short');
      await bob.getByTestId('pw-confirm').fill('shorter');
      await bob.getByTestId('password-save').click();
      const problems = bob.getByTestId('password-problems');
      await problems.waitFor({ timeout: 2000 });
      const said = await problems.textContent();
      assert(said.includes('at least 8 characters') && said.includes('differ'), `the problems: ${said}`);
      await bob.screenshot({ path: join(results, '65-change-password.png') });
      await bob.getByTestId('pw-new').fill(NEW_PASSWORD);
      await bob.getByTestId('pw-confirm').fill(NEW_PASSWORD);
      await bob.getByTestId('password-save').click();
      await bob.getByTestId('password-done').waitFor({ timeout: 5000 });
      // The answer set a new refresh cookie: the session it holds works, the one before is over.
      const after = await sessionToken(bob);
      assert(after && after !== before, 'the browser holds the new session');
      const old = await me(ctx, before);
      assert(old.status === 401 && old.body?.error?.code === 'session_ended', `the old token is refused: ${old.status} ${JSON.stringify(old.body)}`);
      assert((await me(ctx, after)).status === 200, 'the new token works');
      await bob.getByTestId('password-close').click();
      // The dashboard goes on with the new token, also after a reload.
      await bob.reload();
      await bob.getByTestId('account').waitFor({ timeout: 5000 });
      await bob.getByTestId('tab-all').click();
      await bob.getByTestId('link').and(bob.locator('[data-state="open"]')).waitFor({ timeout: 5000 });
      assert((await bob.getByTestId('login-form').count()) === 0, 'still signed in');
    });

    await test(ROLES_SCENARIOS[3], async () => {
      const held = await sessionToken(bob);
      assert(held, 'a token held');
      await bob.getByTestId('account').click();
      await bob.getByTestId('logout').click();
      await bob.getByTestId('signed-out').waitFor({ timeout: 5000 });
      const cookies = await bobContext.cookies();
      assert(!cookies.some((c) => c.name === 'omnidesk_refresh'), `the refresh cookie is cleared: ${cookies.map((c) => c.name).join(', ')}`);
      assert((await sessionToken(bob)) === null, 'nothing left to resume');
      const r = await me(ctx, held);
      assert(r.status === 401 && r.body?.error?.code === 'session_ended', `the token held before is refused: ${r.status} ${JSON.stringify(r.body)}`);
      // A reload does not sign back in: the sign-in page, with no notice.
      await bob.reload();
      await bob.getByTestId('login-form').waitFor({ timeout: 5000 });
      assert((await bob.getByTestId('account').count()) === 0, 'not signed in after a reload');
      assert((await bob.getByTestId('session-expired').count()) === 0, 'no notice');
      // The old password no longer signs in; the new one does.
      await signIn(bob, agents.bob.email, ctx.password);
      await bob.getByTestId('login-error').filter({ hasText: 'Wrong e-mail or password.' }).waitFor({ timeout: 5000 });
      await signIn(bob, agents.bob.email, NEW_PASSWORD);
      await bob.getByTestId('account').waitFor({ timeout: 5000 });
      assert((await me(ctx, await sessionToken(bob))).status === 200, 'signed in with the new password');
    });

    await test(ROLES_SCENARIOS[4], async () => {
      // A throwaway account: five failures lock it for the rest of the minute.
      ctx.admin(['agent', 'add', '--email', LOCKED.email, '--name', LOCKED.name, '--password', LOCKED.password, '--role', 'agent']);
      const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
      await ctx.watchCsp?.(context, 'sign-in lock');
      try {
        const p = await context.newPage();
        p.on('pageerror', (e) => ctx.pageErrors.push(`[sign-in lock] ${e}`));
        await p.goto(base);
        const error = p.getByTestId('login-error');
        for (let i = 1; i <= 5; i++) {
          const answered = p.waitForResponse((r) => r.url().endsWith('/api/v1/auth/login'));
          await signIn(p, LOCKED.email, `wrong password ${i}`);
          assert((await answered).status() === 401, `attempt ${i} is a plain refusal`);
          await error.and(p.locator('[data-kind="badCredentials"]')).waitFor({ timeout: 3000 });
        }
        const sixth = p.waitForResponse((r) => r.url().endsWith('/api/v1/auth/login'));
        await signIn(p, LOCKED.email, LOCKED.password); // the right one: locked all the same
        assert((await sixth).status() === 429, 'the sixth is refused: locked');
        const locked = error.and(p.locator('[data-kind="locked"]'));
        await locked.waitFor({ timeout: 3000 });
        const text = await locked.textContent();
        assert(/too many failed sign-ins; try again in \d+ seconds?/i.test(text), `the lock message: ${text}`);
        assert((await p.getByTestId('account').count()) === 0, 'not signed in');
        await p.screenshot({ path: join(results, '66-login-locked.png') });
      } finally {
        await context.close();
      }
    });
  } finally {
    await bobContext.close();
  }
}
