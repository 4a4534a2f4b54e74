// Roles and the account's pure logic: who may do what, the sign-in and change-password forms'
// messages (a lock's countdown, a disabled account, a wrong or refused password), their checks.
import { describe, expect, it, vi } from 'vitest';
import { EMPTY_PASSWORD_FORM, loginNoticeKey, passwordError, passwordProblems, saidText, sentence, signInError, waitText } from '../src/account';
import { Api, ApiError, NetworkError, retryAfterSecs } from '../src/api';
import { translate, type Key } from '../src/i18n';
import { NEEDS, byRoleAndName, may, roleOf, transferTargets, type Permission } from '../src/roles';
import type { Agent } from '../src/types';

const t = (key: Key, vars?: Record<string, string>) => translate('en', key, vars);
const zh = (key: Key, vars?: Record<string, string>) => translate('zh', key, vars);
const agent = (id: string, patch: Partial<Agent> = {}): Agent => ({ id, email: `${id}@example.com`, name: id, status: 'online', ...patch });

describe('who may do what', () => {
  const all = Object.keys(NEEDS) as Permission[];

  it("an admin may everything; a supervisor everything but rules, FAQ, agents and a contact's data; an agent none of it", () => {
    expect(all.filter((p) => may('admin', p))).toEqual(all);
    expect(all.filter((p) => !may('supervisor', p)).sort()).toEqual(['editFaq', 'editRules', 'eraseContact', 'exportContact', 'manageAgents']);
    expect(all.filter((p) => may('agent', p))).toEqual([]);
  });

  it('a server without roles (no role on the agent) keeps everything offered', () => {
    expect(roleOf(agent('a'))).toBeNull();
    expect(all.every((p) => may(null, p))).toBe(true);
  });

  it('reads the role of an agent; an unknown role counts as none', () => {
    expect(roleOf(agent('a', { role: 'supervisor' }))).toBe('supervisor');
    expect(roleOf({ role: 'owner' as never })).toBeNull();
    expect(roleOf(null)).toBeNull();
  });

  it('every denied action has a tooltip naming who may, in both languages', () => {
    for (const p of all) {
      const who = NEEDS[p] === 'admin' ? 'Only an admin may' : 'Only a supervisor or an admin may';
      expect(t(`deny_${p}` as Key)).toMatch(new RegExp(`^${who} `));
      expect(zh(`deny_${p}` as Key)).not.toBe(t(`deny_${p}` as Key));
    }
  });

  it('a conversation is never offered to a disabled agent, to me or to who has it', () => {
    const list = [agent('me'), agent('bob'), agent('cy', { disabled: true }), agent('dee')];
    expect(transferTargets(list, 'me', 'dee').map((a) => a.id)).toEqual(['bob']);
  });

  it('the agents page lists enabled agents first, admins before supervisors before agents, then by name', () => {
    const list = [
      agent('zed', { role: 'agent' }),
      agent('off', { role: 'admin', disabled: true }),
      agent('amy', { role: 'agent' }),
      agent('sue', { role: 'supervisor' }),
      agent('ann', { role: 'admin' }),
    ];
    expect([...list].sort(byRoleAndName).map((a) => a.id)).toEqual(['ann', 'sue', 'amy', 'zed', 'off']);
  });
});

describe('the sign-in form says why a sign-in was refused', () => {
  const now = 1_000_000;

  it('wrong e-mail or password (401): the usual message', () => {
    expect(saidText(signInError(new ApiError(401, 'invalid_credentials', 'wrong e-mail or password')), t)).toBe('Wrong e-mail or password.');
  });

  it('locked (429 with Retry-After): "Too many failed sign-ins; try again in 45 seconds.", counting down, then over', () => {
    const said = signInError(new ApiError(429, 'too_many_attempts', 'too many failed sign-ins; try again in 45 seconds', {}, 45), now);
    expect(said).toEqual({ kind: 'locked', until: now + 45_000, message: 'too many failed sign-ins; try again in 45 seconds' });
    expect(saidText(said, t, now)).toBe('Too many failed sign-ins; try again in 45 seconds.');
    expect(saidText(said, t, now + 43_500)).toBe('Too many failed sign-ins; try again in 2 seconds.');
    expect(saidText(said, t, now + 44_200)).toBe('Too many failed sign-ins; try again in 1 second.');
    expect(saidText(said, t, now + 45_000)).toBe('You can try signing in again now.');
    expect(saidText(said, zh, now)).toBe('登录失败次数过多；请在 45 秒后重试。');
  });

  it('locked without a readable Retry-After: the server\'s own message, as a sentence', () => {
    const said = signInError(new ApiError(429, 'too_many_attempts', 'too many failed sign-ins; try again in 12 minutes'), now);
    expect(saidText(said, t, now)).toBe('Too many failed sign-ins; try again in 12 minutes');
  });

  it('a disabled account (403 account_disabled), the server unreachable, anything else with its message', () => {
    expect(saidText(signInError(new ApiError(403, 'account_disabled', 'this account is disabled; ask an admin')), t)).toBe('This account is disabled. Ask an admin to enable it.');
    expect(saidText(signInError(new NetworkError('Failed to fetch')), t)).toBe('Could not reach the server. Check the connection and try again.');
    expect(saidText(signInError(new ApiError(503, 'unavailable', 'the store is unavailable')), t)).toBe('Could not sign in: the store is unavailable');
  });

  it('waits read as the server words them', () => {
    expect([1, 2, 90, 91, 5400, 5401].map((s) => waitText(s, t))).toEqual(['1 second', '2 seconds', '90 seconds', '2 minutes', '90 minutes', '2 hours']);
    expect(sentence('')).toBe('');
  });

  it('why the sign-in page shows: a session ended, expired, signed out, or a first visit', () => {
    expect(loginNoticeKey(null)).toBeNull();
    expect(t(loginNoticeKey('session_ended')!)).toMatch(/^Your session ended — sign in again\./);
    expect(loginNoticeKey('token_expired')).toBe('sessionExpired');
    expect(loginNoticeKey('signed_out')).toBe('signedOut');
  });
});

describe('the change-password form', () => {
  it('checks before sending: the current one, at least 8 characters, the same twice, not the current one', () => {
    expect(passwordProblems(EMPTY_PASSWORD_FORM)).toEqual(['pw_needCurrent', 'pw_tooShort']);
    expect(passwordProblems({ current: 'old password', next: 'short', confirm: 'short' })).toEqual(['pw_tooShort']);
    expect(passwordProblems({ current: 'old password', next: 'long enough', confirm: 'long enougH' })).toEqual(['pw_mismatch']);
    expect(passwordProblems({ current: 'old password', next: 'old password', confirm: 'old password' })).toEqual(['pw_same']);
    expect(passwordProblems({ current: 'old password', next: 'long enough', confirm: 'long enough' })).toEqual([]);
    // Characters, not UTF-16 units (as the server counts): 8 CJK characters pass, 7 emoji do not.
    expect(passwordProblems({ current: 'x', next: '密码密码密码密码', confirm: '密码密码密码密码' })).toEqual([]);
    expect(passwordProblems({ current: 'x', next: '🔑🔑🔑🔑🔑🔑🔑', confirm: '🔑🔑🔑🔑🔑🔑🔑' })).toEqual(['pw_tooShort']);
  });

  it("says the server's refusals: a wrong current password, a refused new one, a lock", () => {
    expect(saidText(passwordError(new ApiError(403, 'wrong_password', 'current_password: that is not your current password')), t)).toBe('That is not your current password.');
    expect(saidText(passwordError(new ApiError(400, 'invalid_input', 'new_password: is one of the most common passwords; choose another')), t)).toBe(
      'The new password is one of the most common passwords; choose another.',
    );
    const locked = passwordError(new ApiError(429, 'too_many_attempts', 'too many failed sign-ins; try again in 30 seconds', {}, 30), 0);
    expect(saidText(locked, t, 0)).toBe('Too many failed sign-ins; try again in 30 seconds.');
    expect(saidText(passwordError(new ApiError(500, 'internal', 'boom')), t)).toBe('Could not change the password: boom');
    expect(saidText(passwordError(new NetworkError('x')), t)).toBe('Could not reach the server; your password is unchanged.');
  });
});

describe('Retry-After', () => {
  it('is read in whole seconds (at least 1); a date or garbage is ignored', () => {
    expect(retryAfterSecs('45')).toBe(45);
    expect(retryAfterSecs(' 0 ')).toBe(1);
    expect(retryAfterSecs('Wed, 21 Oct 2026 07:28:00 GMT')).toBeNull();
    expect(retryAfterSecs(null)).toBeNull();
  });

  it("is kept on the API's error of a 429, and a refused sign-in never logs out", async () => {
    vi.stubGlobal('fetch', async () =>
      new Response(JSON.stringify({ error: { code: 'too_many_attempts', message: 'too many failed sign-ins; try again in 45 seconds' } }), { status: 429, headers: { 'Retry-After': '45' } }),
    );
    const onUnauthorized = vi.fn();
    const err = await new Api({ apiBase: '', wsUrl: '' }, onUnauthorized).login('a@example.com', 'x').catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect([err.status, err.code, err.retryAfter]).toEqual([429, 'too_many_attempts', 45]);
    expect(onUnauthorized).not.toHaveBeenCalled();
    vi.unstubAllGlobals();
  });
});
