// @vitest-environment happy-dom
// Staying signed in without a token in Web Storage: the API client renews its short-lived access
// token with the refresh cookie (`POST /auth/refresh`) when the session refuses a request, once
// for every caller refused meanwhile and once per request; a refresh refused too signs out; a
// refused password or code never renews anything; the token is renewed ahead of its expiry; the
// tabs take turns (Web Locks) and a refresh that lost a race with another tab tries once more.
// Also what resuming the sign-in at start comes to. `fetch` is stubbed; nothing leaves the test.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Api, ApiError, MIN_RENEW_MS, NetworkError, RACE_PAUSE_MS, REFRESHED_KEY, REFRESH_LOCK, RENEW_RETRY_MS, renewDelay } from '../src/api';
import { resumeRetryMs, resumeSession } from '../src/account';
import type { Agent } from '../src/types';

const ANN: Agent = { id: 'ag_ann', email: 'ann@example.com', name: 'Ann Agent', status: 'online', role: 'admin' };
const T0 = Date.parse('2026-03-02T10:00:00Z');
/** The expiry the server gives a token issued at `at`: 15 minutes later, RFC 3339. */
const in15 = (at: number) => new Date(at + 15 * 60_000).toISOString();

type Call = { method: string; url: string; auth?: string; credentials?: RequestCredentials };
type Answer = { status?: number; body?: unknown; headers?: Record<string, string> } | Promise<Answer> | Error;

/** `fetch` answering with `answer(call)`; an Error is a request that never reached the server. */
function stubFetch(answer: (c: Call) => Answer) {
  const calls: Call[] = [];
  vi.stubGlobal('fetch', async (url: string, init: RequestInit = {}) => {
    const c: Call = { method: init.method ?? 'GET', url, auth: (init.headers as Record<string, string>)?.Authorization, credentials: init.credentials };
    calls.push(c);
    const a = await answer(c);
    if (a instanceof Error) throw a;
    return new Response(a.status === 204 ? null : JSON.stringify(a.body ?? null), { status: a.status ?? 200, headers: a.headers });
  });
  return calls;
}
const refused = (status: number, code: string) => ({ status, body: { error: { code, message: code } } });
const renewed = (token: string) => ({ body: { token, expires_at: in15(Date.now()), refresh_expires_at: in15(Date.now() + 7 * 86_400_000), agent: ANN } });
const refreshes = (calls: Call[]) => calls.filter((c) => c.url === '/api/v1/auth/refresh');

function api(token: string | null = 'tok') {
  const onUnauthorized = vi.fn();
  const a = new Api({ apiBase: '', wsUrl: '' }, onUnauthorized);
  if (token) a.token = token;
  return { a, onUnauthorized };
}

/** The usual server: `tok` has expired, the refresh gives `tok2`, which works. */
const expiredThenRenewed = (c: Call): Answer => {
  if (c.url === '/api/v1/auth/refresh') return renewed('tok2');
  return c.auth === 'Bearer tok2' ? { body: ANN } : refused(401, 'token_expired');
};

beforeEach(() => {
  localStorage.clear();
  sessionStorage.clear();
});
afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

describe('renewing when the session refuses a request', () => {
  it('a token_expired 401 makes exactly one refresh (by its cookie alone) and one retry with the new token', async () => {
    const calls = stubFetch(expiredThenRenewed);
    const { a, onUnauthorized } = api();
    expect(await a.me()).toEqual(ANN);
    expect(calls.map((c) => [c.method, c.url, c.auth])).toEqual([
      ['GET', '/api/v1/agents/me', 'Bearer tok'],
      ['POST', '/api/v1/auth/refresh', undefined],
      ['GET', '/api/v1/agents/me', 'Bearer tok2'],
    ]);
    expect(a.token).toBe('tok2');
    expect(onUnauthorized).not.toHaveBeenCalled();
    expect(JSON.stringify({ ...localStorage, ...sessionStorage })).not.toContain('tok2'); // in memory only
  });

  it('two calls refused at the same time share one refresh, and each is sent once more', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const calls = stubFetch(async (c) => {
      if (c.url === '/api/v1/auth/refresh') {
        await held; // both calls are refused before the refresh answers
        return renewed('tok2');
      }
      return c.auth === 'Bearer tok2' ? { body: { items: [] } } : refused(401, 'token_expired');
    });
    const { a, onUnauthorized } = api();
    const both = Promise.all([a.agents(), a.canned()]);
    await vi.waitFor(() => expect(refreshes(calls)).toHaveLength(1));
    release();
    await both;
    expect(refreshes(calls)).toHaveLength(1);
    expect(calls.filter((c) => c.auth === 'Bearer tok2').map((c) => c.url).sort()).toEqual(['/api/v1/agents', '/api/v1/canned']);
    expect(calls).toHaveLength(5);
    expect(onUnauthorized).not.toHaveBeenCalled();
  });

  it('a call refused with a token already replaced by a refresh meanwhile is only sent again', async () => {
    let answerOld!: () => void;
    const oldHeld = new Promise<void>((r) => (answerOld = r));
    const calls = stubFetch(async (c) => {
      if (c.url === '/api/v1/auth/refresh') return renewed('tok2');
      if (c.auth === 'Bearer tok2') return { body: ANN };
      if (c.url === '/api/v1/agents') await oldHeld; // answered after the other call renewed
      return refused(401, 'token_expired');
    });
    const { a } = api();
    const slow = a.agents();
    await a.me(); // refused, renewed, sent again
    answerOld();
    await slow;
    expect(refreshes(calls)).toHaveLength(1);
  });

  it('a session_ended 401 tries a refresh too; refused as well, it signs out with the refresh’s code', async () => {
    const calls = stubFetch((c) => (c.url === '/api/v1/auth/refresh' ? refused(401, 'session_ended') : refused(401, 'session_ended')));
    const { a, onUnauthorized } = api();
    const e = await a.me().catch((x) => x);
    expect(e).toBeInstanceOf(ApiError);
    expect(e.status).toBe(401);
    expect(refreshes(calls)).toHaveLength(1);
    expect(calls).toHaveLength(2); // not sent again
    expect(onUnauthorized.mock.calls).toEqual([['session_ended']]);
  });

  it('a refresh that finds no session signs out with the code the call got (token_expired)', async () => {
    vi.useFakeTimers({ now: T0 });
    stubFetch((c) => (c.url === '/api/v1/auth/refresh' ? refused(401, 'no_session') : refused(401, 'token_expired')));
    const { a, onUnauthorized } = api();
    const p = a.me().catch((x) => x);
    await vi.advanceTimersByTimeAsync(RACE_PAUSE_MS); // it waits for a tab that might have rotated the cookie: none did
    expect((await p).code).toBe('token_expired');
    expect(onUnauthorized.mock.calls).toEqual([['token_expired']]);
  });

  it('still refused after the renewal: signs out, no second refresh', async () => {
    const calls = stubFetch((c) => (c.url === '/api/v1/auth/refresh' ? renewed('tok2') : refused(401, 'session_ended')));
    const { a, onUnauthorized } = api();
    await expect(a.me()).rejects.toBeInstanceOf(ApiError);
    expect(refreshes(calls)).toHaveLength(1);
    expect(calls).toHaveLength(3);
    expect(onUnauthorized.mock.calls).toEqual([['session_ended']]);
  });

  it('offline or a failing server during the refresh: the call fails as such and nobody is signed out', async () => {
    stubFetch((c) => (c.url === '/api/v1/auth/refresh' ? new TypeError('Failed to fetch') : refused(401, 'token_expired')));
    const { a, onUnauthorized } = api();
    await expect(a.me()).rejects.toBeInstanceOf(NetworkError);
    stubFetch((c) => (c.url === '/api/v1/auth/refresh' ? refused(503, 'unavailable') : refused(401, 'token_expired')));
    await expect(a.me()).rejects.toMatchObject({ status: 503 });
    expect(onUnauthorized).not.toHaveBeenCalled();
    expect(a.token).toBe('tok');
  });

  it('a refused password or code (sign-in, two-factor forms) never refreshes and never signs out', async () => {
    const calls = stubFetch((c) => {
      if (c.url === '/api/v1/auth/login') return refused(401, 'invalid_credentials');
      if (c.url === '/api/v1/agents/me/totp') return refused(401, 'bad_credentials');
      if (c.url === '/api/v1/agents/me/totp/disable') return refused(401, 'bad_totp');
      return renewed('tok2');
    });
    const { a, onUnauthorized } = api();
    await expect(a.login('ann@example.com', 'nope')).rejects.toMatchObject({ code: 'invalid_credentials' });
    await expect(a.totpSetup('nope')).rejects.toMatchObject({ code: 'bad_credentials' });
    await expect(a.totpDisable('right', '000000')).rejects.toMatchObject({ code: 'bad_totp' });
    expect(refreshes(calls)).toEqual([]);
    expect(onUnauthorized).not.toHaveBeenCalled();
  });

  it('the two-factor forms with an expired token: renewed like any call', async () => {
    const calls = stubFetch((c) => {
      if (c.url === '/api/v1/auth/refresh') return renewed('tok2');
      return c.auth === 'Bearer tok2' ? { body: { totp: false } } : refused(401, 'token_expired');
    });
    const { a } = api();
    expect(await a.totpDisable('right', '123456')).toEqual({ totp: false });
    expect(refreshes(calls)).toHaveLength(1);
  });

  it('a file download is renewed as well', async () => {
    const calls = stubFetch((c) => {
      if (c.url === '/api/v1/auth/refresh') return renewed('tok2');
      return c.auth === 'Bearer tok2' ? { body: { a: 1 }, headers: { 'content-disposition': 'attachment; filename="r.csv"' } } : refused(401, 'token_expired');
    });
    const { a } = api();
    expect((await a.download('/api/v1/reports/summary.csv', 'x.csv')).filename).toBe('r.csv');
    expect(calls.map((c) => c.auth)).toEqual(['Bearer tok', undefined, 'Bearer tok2']);
  });

  it('sign-in, refresh, sign-out and the password change go with credentials (the cookie of an API on another origin); other calls keep the default', async () => {
    const calls = stubFetch((c) => (c.url === '/api/v1/auth/logout' ? { status: 204 } : renewed('tok2')));
    const { a } = api();
    await a.login('ann@example.com', 'right');
    await a.refresh();
    await a.changePassword('right', 'a much longer secret');
    await a.me();
    await a.wsTicket();
    await a.logout();
    expect(calls.map((c) => [c.url, c.credentials])).toEqual([
      ['/api/v1/auth/login', 'include'],
      ['/api/v1/auth/refresh', 'include'],
      ['/api/v1/agents/me/password', 'include'],
      ['/api/v1/agents/me', undefined],
      ['/api/v1/auth/ws-ticket', undefined],
      ['/api/v1/auth/logout', 'include'],
    ]);
  });

  it('sign-out with an expired token is not renewed first (the server takes the cookie then)', async () => {
    const calls = stubFetch((c) => (c.url === '/api/v1/auth/logout' ? refused(401, 'session_ended') : renewed('tok2')));
    const { a, onUnauthorized } = api();
    await expect(a.logout()).rejects.toMatchObject({ code: 'session_ended' });
    expect(calls.map((c) => c.url)).toEqual(['/api/v1/auth/logout']);
    expect(onUnauthorized).not.toHaveBeenCalled();
  });
});

describe('the tabs of one browser', () => {
  it('the refresh runs under the Web Lock "omnidesk-refresh" when the browser has Web Locks', async () => {
    const names: string[] = [];
    let inLock = false;
    vi.stubGlobal('navigator', {
      locks: {
        request: async (name: string, fn: () => Promise<unknown>) => {
          names.push(name);
          inLock = true;
          try {
            return await fn();
          } finally {
            inLock = false;
          }
        },
      },
    });
    const during: boolean[] = [];
    stubFetch((c) => {
      if (c.url === '/api/v1/auth/refresh') during.push(inLock);
      return expiredThenRenewed(c);
    });
    const { a } = api();
    await a.me();
    expect(names).toEqual([REFRESH_LOCK]);
    expect(during).toEqual([true]);
  });

  it('no_session right after another tab refreshed (the cookie rotated meanwhile): once more after a pause, with the new cookie', async () => {
    vi.useFakeTimers({ now: T0 });
    let n = 0;
    const calls = stubFetch((c) => {
      if (c.url !== '/api/v1/auth/refresh') return expiredThenRenewed(c);
      n++;
      if (n === 1) {
        localStorage.setItem(REFRESHED_KEY, `${Date.now()}:another-tab`); // the other tab's refresh won
        return refused(401, 'no_session');
      }
      return renewed('tok2');
    });
    const { a, onUnauthorized } = api();
    const p = a.me();
    await vi.advanceTimersByTimeAsync(RACE_PAUSE_MS);
    expect(await p).toEqual(ANN);
    expect(refreshes(calls)).toHaveLength(2);
    expect(onUnauthorized).not.toHaveBeenCalled();
  });

  it('at start, no_session with no other tab refreshing lately: no pause, no second try', async () => {
    localStorage.setItem(REFRESHED_KEY, `${Date.now() - 60_000}:another-tab`);
    const calls = stubFetch(() => refused(401, 'no_session'));
    const { a } = api(null);
    await expect(a.refresh()).rejects.toMatchObject({ status: 401, code: 'no_session' });
    expect(calls).toHaveLength(1);
  });
});

describe('renewing ahead of expiry', () => {
  it('at 80 % of what is left, never sooner than 5 s', () => {
    expect(renewDelay(15 * 60_000)).toBe(12 * 60_000);
    expect(renewDelay(3_000)).toBe(MIN_RENEW_MS);
    expect(renewDelay(-60_000)).toBe(MIN_RENEW_MS);
  });

  it('an idle dashboard: the timer renews before the token expires, then plans the next one', async () => {
    vi.useFakeTimers({ now: T0 });
    const calls = stubFetch((c) => (c.url === '/api/v1/auth/refresh' ? renewed(`tok${refreshes(calls).length + 1}`) : { body: ANN }));
    const { a, onUnauthorized } = api(null);
    a.adopt(a.sessionOf({ token: 'tok1', expires_at: in15(T0), agent: ANN }));
    a.startRenewing();
    await vi.advanceTimersByTimeAsync(12 * 60_000 - 1);
    expect(refreshes(calls)).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(refreshes(calls)).toHaveLength(1);
    expect(a.token).toBe('tok2'); // 3 minutes before the first one expired
    await vi.advanceTimersByTimeAsync(12 * 60_000);
    expect(refreshes(calls)).toHaveLength(2);
    expect(a.token).toBe('tok3');
    expect(onUnauthorized).not.toHaveBeenCalled();
  });

  it("the expiry is read on the server's clock: a clock an hour wrong here changes nothing", async () => {
    vi.useFakeTimers({ now: T0 });
    const server = T0 + 3_600_000;
    stubFetch(() => ({ body: { token: 'tok2', expires_at: in15(server), agent: ANN }, headers: { date: new Date(server).toUTCString() } }));
    const { a } = api(null);
    const s = await a.refresh();
    expect(s.expiresAt).toBe(T0 + 15 * 60_000);
  });

  it('refused ahead of expiry: signs out; offline: tries again 10 s later', async () => {
    vi.useFakeTimers({ now: T0 });
    let answer: Answer = new TypeError('Failed to fetch');
    const calls = stubFetch(() => answer);
    const { a, onUnauthorized } = api(null);
    a.adopt({ token: 'tok1', expiresAt: T0 + 10_000 });
    a.startRenewing();
    await vi.advanceTimersByTimeAsync(8_000);
    expect(refreshes(calls)).toHaveLength(1);
    expect(onUnauthorized).not.toHaveBeenCalled();
    answer = refused(401, 'session_ended');
    await vi.advanceTimersByTimeAsync(RENEW_RETRY_MS);
    expect(refreshes(calls)).toHaveLength(2);
    expect(onUnauthorized.mock.calls).toEqual([['session_ended']]);
  });

  it('nothing is planned before startRenewing, or after stopRenewing or forget', async () => {
    vi.useFakeTimers({ now: T0 });
    const calls = stubFetch(() => renewed('tok2'));
    const { a } = api(null);
    a.adopt({ token: 'tok1', expiresAt: T0 + 60_000 });
    await vi.advanceTimersByTimeAsync(120_000);
    a.startRenewing();
    a.stopRenewing();
    await vi.advanceTimersByTimeAsync(120_000);
    a.startRenewing();
    a.forget();
    await vi.advanceTimersByTimeAsync(120_000);
    expect(calls).toEqual([]);
    expect(a.token).toBeNull();
  });
});

describe('resuming the sign-in at start', () => {
  const resume = (answer: Answer) => {
    stubFetch(() => answer);
    return resumeSession(api(null).a);
  };

  it('a cookie that still works: signed in, with the token and its expiry', async () => {
    vi.useFakeTimers({ now: T0 });
    expect(await resume(renewed('tok1'))).toEqual({ kind: 'in', session: { token: 'tok1', agent: ANN, expiresAt: T0 + 15 * 60_000 } });
  });

  it('no cookie: the sign-in page with no notice; ended elsewhere or too old: it says so', async () => {
    expect(await resume(refused(401, 'no_session'))).toEqual({ kind: 'out', ended: null });
    expect(await resume(refused(401, 'session_ended'))).toEqual({ kind: 'out', ended: 'session_ended' });
    expect(await resume(refused(401, 'session_too_old'))).toEqual({ kind: 'out', ended: 'session_too_old' });
    expect(await resume(refused(403, 'cross_site'))).toEqual({ kind: 'out', ended: null });
  });

  it('offline, 5xx or 429: unreachable, to try again (2, 4, 8, 16, then every 30 s)', async () => {
    expect(await resume(new TypeError('Failed to fetch'))).toEqual({ kind: 'unreachable' });
    expect(await resume(refused(503, 'unavailable'))).toEqual({ kind: 'unreachable' });
    expect(await resume(refused(429, 'too_many_requests'))).toEqual({ kind: 'unreachable' });
    expect([1, 2, 3, 4, 5, 6, 20].map(resumeRetryMs)).toEqual([2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  });
});
