// Browser scenario of changing an agent's teams: the admin (Ann, in run.mjs's page) puts an agent
// (Tess, signed in through the sign-in page in a browser context of her own) into a team on the
// agents page, and takes her out again; Tess's open dashboard follows each change at once, with
// no reload and no new sign-in. A routing rule sends the customer's messages with a keyword to
// that team: the conversation is hidden from Tess before, appears in her Unassigned list once she
// is in the team (and the customer's next message arrives there live), and leaves it when she is
// out again, when a notice on her page says why the conversation she had open closed (and that
// her draft is kept). The agents page, open before Tess was added, shows her after a click on
// its nav entry. It runs inside e2e/run.mjs (its server, fake Telegram and browser); nothing here
// starts a server. Register it in main() after the roles, AI and two-factor scenarios (it adds an
// agent who is signed in), with the ctx of toolsScenarios plus `admin`:
//
//   import { teamsScenarios } from './teams.mjs';
//   await teamsScenarios({ ...ctx, admin });
//
// Tess chooses Busy at once, so no conversation is ever given to her (the server gives queued
// ones to online members): the team's conversation stays in the queue, where Unassigned shows
// it. The rules in force before are put back at the end.
//
// env OMNIDESK_E2E_TEAMS: unset: run when the server takes `teams` in PATCH /agents/{id} (an
// unknown team is refused with 409 `unknown_team`), else skip with the reason; 1: run
// regardless; 0: skip.

import { join } from 'node:path';

export const TEAMS_SCENARIOS = [
  "teams: the admin puts an agent into a team on the agents page; the agent's open dashboard shows the team's waiting conversation at once and its new messages live; taken out again, it leaves her Unassigned list and a notice says why her open conversation closed, her draft kept — no reload, no new sign-in",
];

const TESS = { email: 'tess-teams@example.com', name: 'Tess Teams', password: 'tess teams password' };
const TEAM = 'e2e-zebra';
const ZOE = { id: 5901, first_name: 'Zoe', language_code: 'en' };
const RULE = `[[rules]]\nname = "E2E zebras go to ${TEAM}"\nwhen.keywords = ["zebra"]\nthen.team = "${TEAM}"\n`;

/** Why the server looks like it cannot change an agent's teams, or null. */
export async function teamsMissing(agentApi) {
  const me = await agentApi('GET', '/api/v1/agents/me');
  if (me.status !== 200) return `GET /api/v1/agents/me answered ${me.status}`;
  // A team that does not exist: refused before anything changes; a server without the field ignores it.
  const r = await agentApi('PATCH', `/api/v1/agents/${me.body.id}`, { teams: ['e2e-no-such-team'] });
  if (r.status === 409 && r.body?.error?.code === 'unknown_team') return null;
  return `PATCH /api/v1/agents/{id} with an unknown team answered ${r.status} ${JSON.stringify(r.body)}`;
}

export async function teamsScenarios(ctx) {
  const { browser, page, base, results, test, skip, assert, waitFor, sleep, agentApi } = ctx;
  const mode = process.env.OMNIDESK_E2E_TEAMS;
  const why = mode === '0' ? 'OMNIDESK_E2E_TEAMS=0' : mode === '1' ? null : await teamsMissing(agentApi);
  if (why) {
    for (const name of TEAMS_SCENARIOS) skip(name, why);
    return;
  }
  const errorMark = ctx.pageErrors.length;
  const rulesBefore = (await agentApi('GET', '/api/v1/rules')).body;
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  await ctx.watchCsp?.(context, 'Tess (teams)');
  const tess = await context.newPage();
  tess.on('pageerror', (e) => ctx.pageErrors.push(`[Tess] ${e}`));
  try {
    await test(TEAMS_SCENARIOS[0], async () => {
      // Ann's agents page is open before Tess exists (it may be open from an earlier scenario:
      // the click reads it again all the same); each read is waited for.
      const agentsRead = () => page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/agents' && r.request().method() === 'GET', { timeout: 5000 });
      let read = agentsRead();
      await page.getByTestId('nav-agents').click();
      await read;
      ctx.admin(['team', 'add', '--name', TEAM, '--timezone', 'UTC']);
      ctx.admin(['agent', 'add', '--email', TESS.email, '--name', TESS.name, '--password', TESS.password, '--role', 'agent']);
      // The rule first, so no other rule answers the keyword before it.
      assert(!rulesBefore.source?.trim() || rulesBefore.format === 'toml', `the rules in force are TOML: ${rulesBefore.format}`);
      const put = await agentApi('PUT', '/api/v1/rules', { source: `${RULE}\n${rulesBefore.source ?? ''}`, format: 'toml', version: rulesBefore.version });
      assert(put.status === 200, `the team's rule saved: ${put.status} ${JSON.stringify(put.body)}`);

      // Tess signs in, busy (so nothing is given to her), on Unassigned.
      await tess.goto(base);
      await tess.getByTestId('email').fill(TESS.email);
      await tess.getByTestId('password').fill(TESS.password);
      await tess.getByTestId('login').click();
      await tess.getByTestId('link').and(tess.locator('[data-state="open"]')).waitFor({ timeout: 5000 });
      await tess.getByTestId('my-status').selectOption('busy');
      const tessOnServer = async () => (await agentApi('GET', '/api/v1/agents')).body.items.find((a) => a.email === TESS.email);
      await waitFor(async () => (await tessOnServer())?.status === 'busy', 3000, 'Tess busy on the server');
      await tess.getByTestId('tab-unassigned').click();
      await tess.evaluate(() => (window.__noReload = true));

      // Zoe writes about a zebra: the rule puts her conversation in the team's queue.
      await ctx.postUpdate('Hello, I have a zebra question (teams e2e)', ZOE);
      const conversation = await waitFor(async () => {
        const r = await agentApi('GET', '/api/v1/conversations?limit=50');
        return (r.body?.items ?? []).find((c) => c.team === TEAM && c.contact?.display_name?.startsWith(ZOE.first_name));
      }, 10000, "Zoe's conversation in the team's queue");
      assert(conversation.status === 'queued' && conversation.assignee_id === null, `waiting in the queue: ${conversation.status} ${conversation.assignee_id}`);
      const item = tess.locator(`[data-testid="conversation-item"][data-id="${conversation.id}"]`);
      await sleep(1500); // time for a push that must not come
      assert((await item.count()) === 0, 'not in her Unassigned list before she is in the team');
      await tess.getByTestId('tab-all').click();
      await sleep(500);
      assert((await item.count()) === 0, 'not in her All list either');
      await tess.getByTestId('tab-unassigned').click();

      // Ann puts Tess into the team on the agents page. It was read before Tess was added: a
      // click on its nav entry, the page already open, reads it again and she shows.
      const row = page.locator(`[data-testid="agent-row"][data-email="${TESS.email}"]`);
      assert((await row.count()) === 0, 'Tess not on the agents page read before she was added');
      read = agentsRead();
      await page.getByTestId('nav-agents').click();
      await read;
      await row.waitFor({ timeout: 5000 });
      await row.getByTestId('agent-teams-edit').click();
      const editor = page.getByTestId('agent-teams-editor');
      await editor.waitFor({ timeout: 3000 });
      const option = editor.locator(`[data-testid="agent-team-option"][data-team="${TEAM}"]`);
      assert(!(await option.isChecked()), 'not ticked before');
      await option.check();
      await page.screenshot({ path: join(results, '70-agents-teams-editor.png') });
      await editor.getByTestId('agent-teams-save').click();
      await page.getByTestId('agent-done').filter({ hasText: `Tess Teams is now in: ${TEAM}.` }).waitFor({ timeout: 3000 });
      assert((await row.getByTestId('agent-teams').textContent()) === TEAM, `the row shows her team: ${await row.getByTestId('agent-teams').textContent()}`);
      assert((await tessOnServer()).teams.includes(TEAM), 'in the team on the server');

      // Her open dashboard: the conversation in Unassigned within seconds, a notice says so, her menu says her team.
      await item.waitFor({ timeout: 5000 });
      const joined = tess.getByTestId('teams-notice').filter({ hasText: `You were added to team ${TEAM}: its waiting conversations are now in Unassigned.` });
      await joined.waitFor({ timeout: 3000 });
      await joined.getByRole('button', { name: 'Dismiss' }).click();
      await joined.waitFor({ state: 'detached', timeout: 3000 });
      await tess.getByTestId('account').click();
      assert((await tess.getByTestId('account-teams').textContent()) === `Teams: ${TEAM}`, `her menu: ${await tess.getByTestId('account-teams').textContent()}`);
      await tess.screenshot({ path: join(results, '71-account-teams.png') });
      await tess.getByTestId('account').click();
      await item.click();
      await tess.getByTestId('conversation').and(tess.locator(`[data-id="${conversation.id}"]`)).waitFor({ timeout: 5000 });
      // Zoe's next message arrives live: in the list's preview and the open timeline.
      const next = 'One more zebra detail, please (teams e2e)';
      await ctx.postUpdate(next, ZOE);
      await tess.getByTestId('message').filter({ hasText: next }).waitFor({ timeout: 5000 });
      await item.getByTestId('preview').filter({ hasText: next }).waitFor({ timeout: 5000 });
      assert((await item.count()) === 1, 'still waiting in Unassigned');
      await tess.screenshot({ path: join(results, '72-teams-joined.png') });
      const draft = 'Zebras are welcome, and about your (half typed in teams e2e)';
      await tess.getByTestId('composer').fill(draft);

      // Out of the team again: the conversation leaves her list (and the open pane).
      await row.getByTestId('agent-teams-edit').click();
      await option.uncheck();
      await editor.getByTestId('agent-teams-save').click();
      await page.getByTestId('agent-done').filter({ hasText: 'Tess Teams is now in no team.' }).waitFor({ timeout: 3000 });
      await item.waitFor({ state: 'detached', timeout: 5000 });
      assert((await tess.getByTestId('conversation').count()) === 0, 'the conversation closed on her page');
      // A notice says why, naming her teams, the customer and the team; it stays until dismissed.
      const notice = tess.getByTestId('teams-notice');
      await notice.waitFor({ timeout: 3000 });
      const said = await notice.locator('strong, .toast-text').allTextContents();
      const expected = [
        'Your teams changed (now: no team).',
        `The conversation with ${conversation.contact.display_name} is in team ${TEAM}, which you are no longer in, so it was closed.`,
        'Your unsent draft is kept.',
      ];
      assert(JSON.stringify(said) === JSON.stringify(expected), `the notice: ${JSON.stringify(said)}`);
      await notice.screenshot({ path: join(results, '74-teams-notice.png') });
      assert((await tess.evaluate((id) => localStorage.getItem(`omnidesk.draft.${id}`), conversation.id)) === draft, 'her draft kept');
      // And nothing more about it arrives.
      await ctx.postUpdate('A third zebra message (teams e2e)', ZOE);
      await sleep(1500);
      assert((await item.count()) === 0, 'not back after a new message');
      await tess.screenshot({ path: join(results, '73-teams-left.png') });

      assert(await tess.evaluate(() => window.__noReload === true), 'her page was never reloaded');
      assert((await tess.getByTestId('login-form').count()) === 0, 'she was never signed out');
      await page.getByTestId('nav-conversations').click();
    });
  } finally {
    await context.close();
    const now = (await agentApi('GET', '/api/v1/rules')).body;
    if (now.version !== rulesBefore.version) {
      const r = await agentApi('PUT', '/api/v1/rules', { source: rulesBefore.source ?? '', format: rulesBefore.format ?? 'toml', version: now.version });
      if (r.status !== 200) console.log(`       note: could not put the rules back (${r.status}): ${JSON.stringify(r.body)}`);
    }
  }
  await test('the teams scenario raised no page error', async () => {
    const errors = ctx.pageErrors.slice(errorMark);
    assert(errors.length === 0, `page errors: ${errors.join(' | ')}`);
  });
}
