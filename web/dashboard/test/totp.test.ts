// Two-factor sign-in (TOTP), the pure side: a code field keeps six digits, the key in blocks of
// four, only an `otpauth://` link is made a link, the setup answer read, what the sign-in page
// and the two-factor forms say about a refusal, and the API helpers (the sign-in with `totp`,
// `POST /agents/me/totp`, `…/confirm`, `…/disable`; a wrong password or code there never signs
// the dashboard out, an ended session still does).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { needsTotp, saidText, signInError } from '../src/account';
import { Api, ApiError, NetworkError, typedSecretRefused } from '../src/api';
import { translate, type Key } from '../src/i18n';
import { aboutCode, aboutPassword, codeDigits, codeReady, compactSecret, groupSecret, otpauthHref, parseTotpSetup, totpError, totpStateOf } from '../src/totp';

const t = (key: Key, vars?: Record<string, string>) => translate('en', key, vars);
const zh = (key: Key, vars?: Record<string, string>) => translate('zh', key, vars);

const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
const URL_ = 'otpauth://totp/omnidesk:ann%40example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=omnidesk&algorithm=SHA1&digits=6&period=30';

describe('a code field', () => {
  it('keeps the digits only, at most six: spaces, dashes and letters dropped, full-width digits read', () => {
    expect(codeDigits('123 456')).toBe('123456');
    expect(codeDigits('12-34-56')).toBe('123456');
    expect(codeDigits('1234567')).toBe('123456');
    expect(codeDigits('12a3')).toBe('123');
    expect(codeDigits('１２３４５６')).toBe('123456');
    expect(codeDigits('')).toBe('');
  });

  it('six digits are a code to send; fewer or anything else are not', () => {
    expect(codeReady('123456')).toBe(true);
    expect(codeReady('000000')).toBe(true);
    expect(codeReady('12345')).toBe(false);
    expect(codeReady('1234567')).toBe(false);
    expect(codeReady('12345a')).toBe(false);
    expect(codeReady('')).toBe(false);
  });
});

describe('the key and its link', () => {
  it('the key reads in blocks of four; Copy takes it without the spaces', () => {
    expect(groupSecret(SECRET)).toBe('JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP');
    expect(groupSecret('JBSWY3DPEHPK3PXPAB')).toBe('JBSW Y3DP EHPK 3PXP AB');
    expect(groupSecret('JBSW Y3DP\nEHPK')).toBe('JBSW Y3DP EHPK');
    expect(groupSecret('')).toBe('');
    expect(compactSecret(' JBSW Y3DP ')).toBe('JBSWY3DP');
  });

  it('only an otpauth:// URL is made a link (never javascript: or http:)', () => {
    expect(otpauthHref(URL_)).toBe(URL_);
    expect(otpauthHref(` ${URL_} `)).toBe(URL_);
    expect(otpauthHref('javascript:alert(1)')).toBeNull();
    expect(otpauthHref('https://example.com/otpauth://totp')).toBeNull();
    expect(otpauthHref('otpauth://totp/a b')).toBeNull();
    expect(otpauthHref(7)).toBeNull();
    expect(otpauthHref(undefined)).toBeNull();
  });

  it('reads the setup answer: the key and the link; no key, no setup', () => {
    expect(parseTotpSetup({ secret: SECRET, otpauth_url: URL_ })).toEqual({ secret: SECRET, otpauthUrl: URL_ });
    expect(parseTotpSetup({ secret: 'JBSW Y3DP', otpauth_url: 'javascript:alert(1)' })).toEqual({ secret: 'JBSWY3DP', otpauthUrl: null });
    expect(parseTotpSetup({ secret: SECRET })).toEqual({ secret: SECRET, otpauthUrl: null });
    expect(parseTotpSetup({ secret: '  ' })).toBeNull();
    expect(parseTotpSetup({ otpauth_url: URL_ })).toBeNull();
    expect(parseTotpSetup(null)).toBeNull();
    expect(parseTotpSetup('JBSW')).toBeNull();
  });

  it('the state after a 2xx answer: as said, else what was asked for', () => {
    expect(totpStateOf({ totp: true }, false)).toBe(true);
    expect(totpStateOf({ totp: false }, true)).toBe(false);
    expect(totpStateOf(null, true)).toBe(true);
    expect(totpStateOf({ totp: 'yes' }, false)).toBe(false);
  });
});

describe('what is said', () => {
  it('the sign-in: totp_required asks for the code (only a 401 with that code); bad_totp says to wait for the next one', () => {
    expect(needsTotp(new ApiError(401, 'totp_required', 'a code from your authenticator app is required'))).toBe(true);
    expect(needsTotp(new ApiError(401, 'invalid_credentials', 'wrong e-mail or password'))).toBe(false);
    expect(needsTotp(new ApiError(400, 'totp_required', 'x'))).toBe(false);
    expect(needsTotp(new NetworkError('x'))).toBe(false);
    expect(saidText(signInError(new ApiError(401, 'bad_totp', 'wrong code')), t)).toBe('That code is not right or was used already; wait for the next one.');
    expect(saidText(signInError(new ApiError(401, 'invalid_credentials', 'wrong e-mail or password')), t)).toBe('Wrong e-mail or password.');
    expect(saidText(signInError(new ApiError(401, 'totp_required', 'x')), t)).toBe('Enter the 6 digits your authenticator app shows.');
  });

  it('the two-factor forms: a wrong password, a wrong code, a lock, the server unreachable, anything else', () => {
    expect(saidText(totpError(new ApiError(401, 'bad_credentials', 'wrong password')), t)).toBe('That is not your current password.');
    expect(saidText(totpError(new ApiError(401, 'invalid_credentials', 'wrong e-mail or password')), t)).toBe('That is not your current password.');
    expect(saidText(totpError(new ApiError(400, 'invalid_code', 'wrong code')), t)).toBe('That code is not right; check the time on your phone.');
    const locked = totpError(new ApiError(429, 'too_many_attempts', 'too many failed sign-ins; try again in 30 seconds', {}, 30), 0);
    expect(saidText(locked, t, 0)).toBe('Too many failed sign-ins; try again in 30 seconds.');
    expect(saidText(totpError(new NetworkError('Failed to fetch')), t)).toBe('Could not reach the server; nothing was changed.');
    expect(saidText(totpError(new ApiError(409, 'conflict', 'no setup to confirm')), t)).toBe('Could not change two-factor sign-in: no setup to confirm');
    expect(aboutPassword(totpError(new ApiError(401, 'bad_credentials', 'x')))).toBe(true);
    expect(aboutCode(totpError(new ApiError(400, 'invalid_code', 'x')))).toBe(true);
    expect(aboutCode(locked)).toBe(false);
  });

  it('every new string exists in Chinese too, and differs from the English', () => {
    const all = ['totp_stepTitle', 'totp_stepHint', 'totp_code', 'totp_verify', 'totp_back', 'totp_badSignIn', 'totp_enterCode', 'totp_menu', 'totp_stateOn', 'totp_stateOff', 'totp_adminHint', 'totp_title', 'totp_intro', 'totp_passwordAsk', 'totp_password', 'totp_start', 'totp_step1', 'totp_copy', 'totp_copied', 'totp_copyManual', 'totp_openApp', 'totp_step2', 'totp_appCode', 'totp_turnOn', 'totp_badCode', 'totp_on', 'totp_onNext', 'totp_onNow', 'totp_offAsk', 'totp_offCode', 'totp_turnOff', 'totp_off', 'totp_offNext', 'totp_noSecret', 'totp_failed', 'totp_offline'] as Key[];
    for (const k of all) {
      expect(t(k)).not.toBe(k);
      expect(zh(k)).not.toBe(t(k));
    }
    expect(zh('totp_stepHint', { a: 'ann@example.com' })).toContain('ann@example.com');
  });
});

describe('the API helpers', () => {
  afterEach(() => vi.unstubAllGlobals());

  type Call = { method: string; url: string; body: unknown; auth?: string };
  function stubFetch(status: number, body: unknown) {
    const calls: Call[] = [];
    vi.stubGlobal('fetch', async (url: string, init: RequestInit = {}) => {
      calls.push({ method: init.method ?? 'GET', url, body: init.body ? JSON.parse(String(init.body)) : undefined, auth: (init.headers as Record<string, string>).Authorization });
      return new Response(JSON.stringify(body), { status });
    });
    return calls;
  }
  function api() {
    const onUnauthorized = vi.fn();
    const a = new Api({ apiBase: '', wsUrl: '' }, onUnauthorized);
    a.token = 'tok';
    return { a, onUnauthorized };
  }

  it('the sign-in sends `totp` only when given', async () => {
    const calls = stubFetch(200, { token: 't', expires_at: 'x', agent: {} });
    const { a } = api();
    await a.login('ann@example.com', 'pw');
    await a.login('ann@example.com', 'pw', '123456');
    expect(calls.map((c) => [c.method, c.url, c.body])).toEqual([
      ['POST', '/api/v1/auth/login', { email: 'ann@example.com', password: 'pw' }],
      ['POST', '/api/v1/auth/login', { email: 'ann@example.com', password: 'pw', totp: '123456' }],
    ]);
  });

  it('a sign-in refused for its code (totp_required, bad_totp) is an ApiError and signs nothing out', async () => {
    stubFetch(401, { error: { code: 'totp_required', message: 'a code from your authenticator app is required' } });
    const { a, onUnauthorized } = api();
    const e = await a.login('ann@example.com', 'pw').catch((x) => x);
    expect(e).toBeInstanceOf(ApiError);
    expect([e.status, e.code]).toEqual([401, 'totp_required']);
    expect(needsTotp(e)).toBe(true);
    expect(onUnauthorized).not.toHaveBeenCalled();
  });

  it('setup, confirm and disable: POSTs with the bearer token and their bodies', async () => {
    const calls = stubFetch(200, { secret: SECRET, otpauth_url: URL_ });
    const { a } = api();
    expect(parseTotpSetup(await a.totpSetup('pw'))).toEqual({ secret: SECRET, otpauthUrl: URL_ });
    await a.totpConfirm('123456');
    await a.totpDisable('pw', '654321');
    expect(calls.map((c) => [c.method, c.url, c.body, c.auth])).toEqual([
      ['POST', '/api/v1/agents/me/totp', { password: 'pw' }, 'Bearer tok'],
      ['POST', '/api/v1/agents/me/totp/confirm', { code: '123456' }, 'Bearer tok'],
      ['POST', '/api/v1/agents/me/totp/disable', { password: 'pw', code: '654321' }, 'Bearer tok'],
    ]);
  });

  it('a wrong password there (401 bad_credentials) is the form\'s refusal: the dashboard stays signed in', async () => {
    stubFetch(401, { error: { code: 'bad_credentials', message: 'wrong password' } });
    const { a, onUnauthorized } = api();
    const e = await a.totpSetup('nope').catch((x: ApiError) => x) as ApiError;
    expect([e.status, e.code]).toEqual([401, 'bad_credentials']);
    await a.totpDisable('nope', '123456').catch(() => {});
    expect(onUnauthorized).not.toHaveBeenCalled();
  });

  it('an ended session there (401 session_ended, unauthorized) still signs out', async () => {
    stubFetch(401, { error: { code: 'session_ended', message: 'the session ended' } });
    const { a, onUnauthorized } = api();
    await a.totpConfirm('123456').catch(() => {});
    expect(onUnauthorized).toHaveBeenCalledWith('session_ended');
  });

  it('which 401s refuse what was typed rather than the session', () => {
    expect(typedSecretRefused('/api/v1/auth/login', 'invalid_credentials')).toBe(true);
    expect(typedSecretRefused('/api/v1/agents/me/totp', 'bad_credentials')).toBe(true);
    expect(typedSecretRefused('/api/v1/agents/me/totp/disable', 'invalid_code')).toBe(true);
    expect(typedSecretRefused('/api/v1/agents/me/totp/confirm', 'token_expired')).toBe(false);
    expect(typedSecretRefused('/api/v1/agents/me/totpx', 'bad_credentials')).toBe(false);
    expect(typedSecretRefused('/api/v1/agents/me', 'bad_credentials')).toBe(false);
  });
});
