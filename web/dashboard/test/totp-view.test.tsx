// @vitest-environment happy-dom
// Two-factor sign-in on screen: the sign-in page's second step (401 totp_required → the code
// field → the same e-mail and password sent again with `totp`; a wrong or reused code; Back; a
// lock counting down there too; the password in no storage), the account menu's entry (on / off,
// the hint for admins), the setup (password → the key in blocks of four, Copy, the otpauth link →
// a code → on, and me says so), its refusals, and turning it off.
import { render } from 'preact';
import { act } from 'preact/test-utils';
import { describe, expect, it, vi } from 'vitest';
import { AccountMenu, TwoFactor } from '../src/account-view';
import { Login } from '../src/app';
import { Controller, type ControllerHooks } from '../src/controller';
import { translate, type Key } from '../src/i18n';
import type { Agent } from '../src/types';
import { useDom } from './dom';
import { person } from './fixtures';

const t = (key: Key, vars?: Record<string, string>) => translate('en', key, vars);
const ANN = person('ag_ann', 'Ann Admin', 'admin', { totp: false });
const BOB = person('ag_bob', 'Bob Agent', 'agent', { totp: false });

const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
const GROUPED = 'JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP';
const OTPAUTH = `otpauth://totp/omnidesk:ann%40example.com?secret=${SECRET}&issuer=omnidesk&algorithm=SHA1&digits=6&period=30`;

const { root, tid, flush, click, fill } = useDom();
async function submit(form: HTMLElement | null) {
  expect(form).not.toBeNull();
  await act(async () => void form!.dispatchEvent(new Event('submit', { bubbles: true, cancelable: true })));
  await flush();
}
const input = (id: string) => tid(id) as HTMLInputElement;

type Call = { method: string; url: string; body: Record<string, unknown> | undefined; auth?: string };
type Answer = { status?: number; body?: unknown; headers?: Record<string, string> } | null;
function stubFetch(answer: (c: Call) => Answer) {
  const calls: Call[] = [];
  vi.stubGlobal('fetch', async (url: string, init: RequestInit = {}) => {
    const c: Call = { method: init.method ?? 'GET', url, body: init.body ? JSON.parse(String(init.body)) : undefined, auth: (init.headers as Record<string, string>)?.Authorization };
    calls.push(c);
    const r = answer(c) ?? { status: 404, body: { error: { code: 'no_route', message: 'no route' } } };
    return new Response(r.status === 204 ? null : JSON.stringify(r.body ?? null), { status: r.status ?? 200, headers: r.headers });
  });
  return calls;
}
const refuse = (status: number, code: string, message = code) => ({ status, body: { error: { code, message } } });

describe('the sign-in page: the second step', () => {
  function login() {
    const onLogin = vi.fn();
    act(() => render(<Login cfg={{ apiBase: '', wsUrl: '' }} t={t} lang="en" setLang={() => {}} ended={null} onLogin={onLogin} />, root()));
    return onLogin;
  }
  async function signIn(email: string, password: string) {
    await fill(tid('email'), email);
    await fill(tid('password'), password);
    await submit(tid('login-form'));
  }
  /** The server: the password `right`, then the code 123456 (any other: bad_totp). */
  function server() {
    return stubFetch((c) => {
      if (c.url !== '/api/v1/auth/login') return null;
      if (c.body?.password !== 'right') return refuse(401, 'invalid_credentials', 'wrong e-mail or password');
      if (c.body.totp === undefined) return refuse(401, 'totp_required', 'a code from your authenticator app is required');
      if (c.body.totp !== '123456') return refuse(401, 'bad_totp', 'wrong code');
      return { body: { token: 'tok', expires_at: '2026-01-02T00:00:00Z', agent: { ...ANN, totp: true } } };
    });
  }

  it('totp_required: asks for the code (numeric, one-time-code, 6 at most, focused), then sends the same e-mail and password with it', async () => {
    const calls = server();
    const onLogin = login();
    await signIn(' ann@example.com ', 'right');
    expect(onLogin).not.toHaveBeenCalled();
    expect(tid('login-form')!.getAttribute('data-step')).toBe('code');
    expect(tid('login-error')).toBeNull(); // not an error: the next step
    expect(tid('password')).toBeNull();
    expect(tid('email')).toBeNull();
    expect(tid('totp-step')!.textContent).toContain('Enter the 6-digit code your authenticator app shows for ann@example.com.');
    const code = input('totp-code');
    expect(code.getAttribute('inputmode')).toBe('numeric');
    expect(code.getAttribute('autocomplete')).toBe('one-time-code');
    expect(code.getAttribute('maxlength')).toBe('6');
    expect(code.hasAttribute('autofocus')).toBe(true);
    expect(document.activeElement).toBe(code);
    expect(code.closest('label')!.textContent).toContain('6-digit code');
    expect(tid('totp-verify')!.textContent).toBe('Verify');
    expect(tid('totp-back')!.textContent).toBe('← Back');

    await fill(code, '123 456');
    expect(code.value).toBe('123456');
    await submit(tid('login-form'));
    expect(calls.map((c) => c.body)).toEqual([
      { email: 'ann@example.com', password: 'right' },
      { email: 'ann@example.com', password: 'right', totp: '123456' },
    ]);
    expect(onLogin).toHaveBeenCalledWith({ token: 'tok', agent: expect.objectContaining({ id: ANN.id, totp: true }), expiresAt: Date.parse('2026-01-02T00:00:00Z') });
  });

  it('a wrong or reused code: says so, keeps the step, clears the code for the next one', async () => {
    const calls = server();
    const onLogin = login();
    await signIn('ann@example.com', 'right');
    await fill(tid('totp-code'), '111111');
    await submit(tid('login-form'));
    expect(tid('login-error')!.textContent).toBe('That code is not right or was used already; wait for the next one.');
    expect(tid('login-error')!.getAttribute('data-kind')).toBe('totp_badSignIn');
    expect(tid('login-form')!.getAttribute('data-step')).toBe('code');
    expect(input('totp-code').value).toBe('');
    expect(input('totp-code').getAttribute('aria-invalid')).toBe('true');
    await fill(tid('totp-code'), '123456');
    await submit(tid('login-form'));
    expect(onLogin).toHaveBeenCalledOnce();
    expect(calls.map((c) => c.body?.totp)).toEqual([undefined, '111111', '123456']);
  });

  it('fewer than six digits are not sent', async () => {
    const calls = server();
    login();
    await signIn('ann@example.com', 'right');
    await fill(tid('totp-code'), '12a34');
    expect(input('totp-code').value).toBe('1234');
    await click(tid('totp-verify'));
    expect(tid('login-error')!.textContent).toBe('Enter the 6 digits your authenticator app shows.');
    expect(calls).toHaveLength(1);
  });

  it('Back starts over: the e-mail kept, the password and the code forgotten', async () => {
    const calls = server();
    login();
    await signIn('ann@example.com', 'right');
    await fill(tid('totp-code'), '12');
    await click(tid('totp-back'));
    expect(tid('login-form')!.getAttribute('data-step')).toBe('password');
    expect(tid('totp-code')).toBeNull();
    expect(input('email').value).toBe('ann@example.com');
    expect(input('password').value).toBe('');
    expect(document.activeElement).toBe(tid('password'));
    // Signing in again asks for the code again.
    await fill(tid('password'), 'right');
    await submit(tid('login-form'));
    expect(input('totp-code').value).toBe('');
    expect(calls).toHaveLength(2);
  });

  it('the password is kept in no storage', async () => {
    server();
    login();
    await signIn('ann@example.com', 'right');
    const stored = [localStorage, sessionStorage].flatMap((s) => Array.from({ length: s.length }, (_, i) => s.getItem(s.key(i)!) ?? ''));
    expect(stored.some((v) => v.includes('right'))).toBe(false);
  });

  it('throttled in the second step: the lock and its wait, counting down, the step kept', async () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: ['Date', 'setInterval', 'clearInterval'] });
    stubFetch((c) =>
      c.body?.totp === undefined
        ? refuse(401, 'totp_required')
        : { status: 429, headers: { 'Retry-After': '30' }, body: { error: { code: 'too_many_attempts', message: 'too many failed sign-ins; try again in 30 seconds' } } },
    );
    login();
    await signIn('ann@example.com', 'right');
    await fill(tid('totp-code'), '123456');
    await submit(tid('login-form'));
    const err = tid('login-error')!;
    expect(err.getAttribute('data-kind')).toBe('locked');
    expect(err.textContent).toBe('Too many failed sign-ins; try again in 30 seconds.');
    await act(async () => void vi.advanceTimersByTime(10_000));
    expect(tid('login-error')!.textContent).toBe('Too many failed sign-ins; try again in 20 seconds.');
    expect(tid('login-form')!.getAttribute('data-step')).toBe('code');
  });

  it('the password refused in the second step (changed meanwhile): back to the first step, saying so', async () => {
    stubFetch((c) => (c.body?.totp === undefined ? refuse(401, 'totp_required') : refuse(401, 'invalid_credentials', 'wrong e-mail or password')));
    login();
    await signIn('ann@example.com', 'right');
    await fill(tid('totp-code'), '123456');
    await submit(tid('login-form'));
    expect(tid('login-form')!.getAttribute('data-step')).toBe('password');
    expect(tid('login-error')!.textContent).toBe('Wrong e-mail or password.');
    expect(input('password').value).toBe('');
  });

  it('an account without two-factor sign-in signs in at once, as before', async () => {
    const calls = stubFetch(() => ({ body: { token: 'tok', expires_at: 'x', agent: BOB } }));
    const onLogin = login();
    await signIn('bob@example.com', 'right');
    expect(onLogin).toHaveBeenCalledWith({ token: 'tok', agent: BOB, expiresAt: null }); // an expiry not readable: none planned
    expect(calls[0].body).toEqual({ email: 'bob@example.com', password: 'right' });
  });
});

function controller(me: Agent, hooks: Partial<ControllerHooks> = {}) {
  const ctrl = new Controller({ apiBase: '', wsUrl: 'ws://x/ws' }, { token: 'tok', agent: me }, { onLoggedOut: () => {}, ...hooks });
  ctrl.agents = [ANN, BOB];
  return ctrl;
}
function mountMenu(ctrl: Controller) {
  const again = () => act(() => render(<AccountMenu ctrl={ctrl} t={t} onSignOut={() => {}} signingOut={false} />, root()));
  again();
  ctrl.subscribe(again);
}

describe('the account menu', () => {
  it('an admin without it: the entry says Off, and admins should turn it on', async () => {
    mountMenu(controller(ANN));
    await click(tid('account'));
    expect(tid('totp-open')!.textContent).toBe('Two-factor sign-in…');
    expect(tid('totp-open')!.getAttribute('aria-haspopup')).toBe('dialog');
    expect(tid('totp-state')!.textContent).toBe('Off');
    expect(tid('totp-admin-hint')!.textContent).toBe('Admins should turn on two-factor sign-in.');
  });

  it('an agent: the entry, no hint; on: the entry says On', async () => {
    mountMenu(controller(BOB));
    await click(tid('account'));
    expect(tid('totp-state')!.textContent).toBe('Off');
    expect(tid('totp-admin-hint')).toBeNull();
    render(null, root());
    mountMenu(controller({ ...ANN, totp: true }));
    await click(tid('account'));
    expect(tid('totp-state')!.textContent).toBe('On');
    expect(tid('totp-state')!.getAttribute('data-on')).toBe('true');
    expect(tid('totp-admin-hint')).toBeNull();
  });

  it('a server without two-factor sign-in (no `totp` on me): no entry', async () => {
    const { totp: _, ...old } = ANN;
    mountMenu(controller(old));
    await click(tid('account'));
    expect(tid('change-password')).not.toBeNull();
    expect(tid('totp-open')).toBeNull();
    expect(tid('totp-admin-hint')).toBeNull();
  });

  it('the entry opens the dialog; Escape closes it and gives the focus back', async () => {
    mountMenu(controller(ANN));
    await click(tid('account'));
    await click(tid('totp-open'));
    expect(tid('account-panel')).toBeNull();
    expect(tid('totp-dialog')!.getAttribute('role')).toBe('dialog');
    expect(document.activeElement).toBe(tid('totp-password'));
    await act(async () => void document.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true })));
    expect(tid('totp-dialog')).toBeNull();
    expect(document.activeElement).toBe(tid('account'));
  });
});

describe('setting it up', () => {
  /** The server: the password `right`; the code 123456 confirms. */
  function server() {
    return stubFetch((c) => {
      if (c.url === '/api/v1/agents/me/totp') return c.body?.password === 'right' ? { body: { secret: SECRET, otpauth_url: OTPAUTH } } : refuse(401, 'bad_credentials', 'wrong password');
      if (c.url === '/api/v1/agents/me/totp/confirm') return c.body?.code === '123456' ? { body: { totp: true } } : refuse(400, 'invalid_code', 'wrong code');
      return null;
    });
  }
  async function open(ctrl: Controller) {
    mountMenu(ctrl);
    await click(tid('account'));
    await click(tid('totp-open'));
  }

  it('password → the key in blocks of four and its link → a code → on; the menu says so', async () => {
    const calls = server();
    const onLoggedOut = vi.fn();
    const ctrl = controller(ANN, { onLoggedOut });
    await open(ctrl);
    expect(tid('totp-dialog')!.textContent).toContain('authenticator app');
    expect(tid('totp-start')!.textContent).toBe('Set up');
    expect(tid('totp-password')!.closest('label')!.textContent).toBe('Current password');
    await fill(tid('totp-password'), 'right');
    await submit(tid('totp-start-form'));

    expect(tid('totp-secret')!.textContent).toBe(GROUPED);
    const link = tid('totp-link') as HTMLAnchorElement;
    expect(link.getAttribute('href')).toBe(OTPAUTH);
    expect(link.textContent).toBe('Open in an authenticator app');
    expect(tid('totp-password')).toBeNull(); // the password is forgotten once checked
    const code = input('totp-confirm-code');
    expect(document.activeElement).toBe(code);
    expect([code.getAttribute('inputmode'), code.getAttribute('autocomplete'), code.getAttribute('maxlength')]).toEqual(['numeric', 'one-time-code', '6']);
    expect(code.closest('label')!.textContent).toBe('Code from the app');
    expect(tid('totp-enable')!.textContent).toBe('Turn on');

    await fill(code, '123456');
    await submit(tid('totp-setup-form'));
    expect(calls.map((c) => [c.method, c.url, c.body, c.auth])).toEqual([
      ['POST', '/api/v1/agents/me/totp', { password: 'right' }, 'Bearer tok'],
      ['POST', '/api/v1/agents/me/totp/confirm', { code: '123456' }, 'Bearer tok'],
    ]);
    expect(tid('totp-on')!.textContent).toBe('✓ Two-factor sign-in is on');
    expect(tid('totp-on')!.getAttribute('role')).toBe('status');
    expect(ctrl.me.totp).toBe(true);
    expect(ctrl.agents.find((a) => a.id === ANN.id)!.totp).toBe(true);
    expect(ctrl.api.token).toBe('tok'); // the session stays as it is
    expect(onLoggedOut).not.toHaveBeenCalled();

    await click(tid('totp-close'));
    expect(tid('totp-dialog')).toBeNull();
    await click(tid('account'));
    expect(tid('totp-state')!.textContent).toBe('On');
    expect(tid('totp-admin-hint')).toBeNull();
  });

  it('a wrong password: said, the dashboard stays signed in, nothing shown of a key', async () => {
    server();
    const onLoggedOut = vi.fn();
    await open(controller(ANN, { onLoggedOut }));
    await fill(tid('totp-password'), 'nope');
    await submit(tid('totp-start-form'));
    expect(tid('totp-error')!.textContent).toBe('That is not your current password.');
    expect(tid('totp-password')!.getAttribute('aria-invalid')).toBe('true');
    expect(document.activeElement).toBe(tid('totp-password'));
    expect(tid('totp-secret')).toBeNull();
    expect(onLoggedOut).not.toHaveBeenCalled();
  });

  it('no password: asked for, nothing sent', async () => {
    const calls = server();
    await open(controller(ANN));
    await click(tid('totp-start'));
    expect(tid('totp-error')!.textContent).toBe('Enter your current password.');
    expect(calls).toHaveLength(0);
  });

  it('a wrong code: "check the time on your phone", the key still shown, the code cleared; the right one turns it on', async () => {
    server();
    const ctrl = controller(ANN);
    await open(ctrl);
    await fill(tid('totp-password'), 'right');
    await submit(tid('totp-start-form'));
    await fill(tid('totp-confirm-code'), '000000');
    await submit(tid('totp-setup-form'));
    expect(tid('totp-error')!.textContent).toBe('That code is not right; check the time on your phone.');
    expect(tid('totp-secret')!.textContent).toBe(GROUPED);
    expect(input('totp-confirm-code').value).toBe('');
    expect(input('totp-confirm-code').getAttribute('aria-invalid')).toBe('true');
    expect(document.activeElement).toBe(tid('totp-confirm-code'));
    expect(ctrl.me.totp).toBe(false);
    await fill(tid('totp-confirm-code'), '123456');
    expect(tid('totp-error')).toBeNull(); // typing again clears it
    await click(tid('totp-enable'));
    expect(tid('totp-on')).not.toBeNull();
    expect(ctrl.me.totp).toBe(true);
  });

  it('Copy puts the key on the clipboard without the spaces; without a clipboard the key is selected instead', async () => {
    server();
    const writeText = vi.fn(async (_: string) => {});
    vi.stubGlobal('navigator', { ...navigator, clipboard: { writeText } });
    await open(controller(ANN));
    await fill(tid('totp-password'), 'right');
    await submit(tid('totp-start-form'));
    await click(tid('totp-copy'));
    expect(writeText).toHaveBeenCalledWith(SECRET);
    expect(tid('totp-copy')!.textContent).toBe('✓ Copied');

    vi.stubGlobal('navigator', { ...navigator, clipboard: undefined });
    await click(tid('totp-copy'));
    expect(tid('totp-copy-manual')!.textContent).toContain('copy it with Ctrl+C');
    expect(window.getSelection()!.toString().replace(/\s/g, '')).toBe(SECRET);
  });

  it('the dialog component alone: a link that is not otpauth:// is not shown', async () => {
    const actions = {
      startTotp: vi.fn(async () => ({ ok: true as const, setup: { secret: 'ABCDEFGH', otpauthUrl: null } })),
      confirmTotp: vi.fn(async () => null),
      disableTotp: vi.fn(async () => null),
    };
    act(() => render(<TwoFactor t={t} on={false} actions={actions} onClose={() => {}} />, root()));
    await fill(tid('totp-password'), 'pw');
    await submit(tid('totp-start-form'));
    expect(tid('totp-secret')!.textContent).toBe('ABCD EFGH');
    expect(tid('totp-link')).toBeNull();
  });
});

describe('turning it off', () => {
  function server() {
    return stubFetch((c) => {
      if (c.url !== '/api/v1/agents/me/totp/disable') return null;
      if (c.body?.password !== 'right') return refuse(401, 'bad_credentials', 'wrong password');
      if (c.body.code !== '123456') return refuse(400, 'invalid_code', 'wrong code');
      return { body: { totp: false } };
    });
  }
  async function open(ctrl: Controller) {
    mountMenu(ctrl);
    await click(tid('account'));
    await click(tid('totp-open'));
  }

  it('on: says so, asks for the password and a current code; a wrong password, a wrong code, then off', async () => {
    const calls = server();
    const onLoggedOut = vi.fn();
    const ctrl = controller({ ...ANN, totp: true }, { onLoggedOut });
    await open(ctrl);
    expect(tid('totp-dialog')!.getAttribute('data-phase')).toBe('manage');
    expect(tid('totp-status')!.textContent).toContain('Two-factor sign-in is on');
    expect(document.activeElement).toBe(tid('totp-off-password'));
    const code = input('totp-off-code');
    expect([code.getAttribute('inputmode'), code.getAttribute('autocomplete'), code.getAttribute('maxlength')]).toEqual(['numeric', 'one-time-code', '6']);
    expect(tid('totp-disable')!.textContent).toBe('Turn off');

    await fill(tid('totp-off-password'), 'nope');
    await fill(tid('totp-off-code'), '123456');
    await submit(tid('totp-off-form'));
    expect(tid('totp-error')!.textContent).toBe('That is not your current password.');
    expect(tid('totp-off-password')!.getAttribute('aria-invalid')).toBe('true');
    expect(onLoggedOut).not.toHaveBeenCalled();

    await fill(tid('totp-off-password'), 'right');
    await fill(tid('totp-off-code'), '999999');
    await submit(tid('totp-off-form'));
    expect(tid('totp-error')!.textContent).toBe('That code is not right; check the time on your phone.');
    expect(input('totp-off-code').value).toBe('');
    expect(ctrl.me.totp).toBe(true);

    await fill(tid('totp-off-code'), '123456');
    await click(tid('totp-disable'));
    expect(calls.map((c) => c.body)).toEqual([
      { password: 'nope', code: '123456' },
      { password: 'right', code: '999999' },
      { password: 'right', code: '123456' },
    ]);
    expect(tid('totp-off')!.textContent).toBe('✓ Two-factor sign-in is off');
    expect(ctrl.me.totp).toBe(false);
    await click(tid('totp-close'));
    await click(tid('account'));
    expect(tid('totp-state')!.textContent).toBe('Off');
    expect(tid('totp-admin-hint')).not.toBeNull();
  });

  it('a code is needed before sending; Cancel closes', async () => {
    const calls = server();
    await open(controller({ ...ANN, totp: true }));
    await fill(tid('totp-off-password'), 'right');
    await click(tid('totp-disable'));
    expect(tid('totp-error')!.textContent).toBe('Enter the 6 digits your authenticator app shows.');
    expect(calls).toHaveLength(0);
    await click(tid('totp-cancel'));
    expect(tid('totp-dialog')).toBeNull();
  });
});
