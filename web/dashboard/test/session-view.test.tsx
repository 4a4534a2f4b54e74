// @vitest-environment happy-dom
// The start of the app on screen: while the sign-in this browser holds is resumed (the refresh
// cookie) a neutral "Signing in…" shows, never the sign-in form; resumed, the desk opens; no
// cookie shows the sign-in page without a notice, a session ended elsewhere with one; the server
// out of reach says so and tries again. No token is ever put in Web Storage, and the key older
// builds kept it under is removed.
import { render } from 'preact';
import { act } from 'preact/test-utils';
import { describe, expect, it, vi } from 'vitest';
import { App } from '../src/app';
import type { Agent } from '../src/types';
import { useDom } from './dom';

const ANN: Agent = { id: 'ag_ann', email: 'ann@example.com', name: 'Ann Agent', status: 'online', role: 'admin' };
const CFG = { apiBase: '', wsUrl: 'ws://x/ws' };

/** A socket that never connects (the desk's live link is not what these tests are about). */
class QuietSocket {
  static readonly OPEN = 1;
  readyState = 0;
  onopen: (() => void) | null = null;
  onclose: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onmessage: (() => void) | null = null;
  constructor(readonly url: string) {}
  send() {}
  close() {}
}

type Answer = { status?: number; body?: unknown } | Error;
function stubFetch(refresh: () => Answer | Promise<Answer>) {
  const urls: string[] = [];
  vi.stubGlobal('fetch', async (url: string) => {
    urls.push(url);
    const a = url === '/api/v1/auth/refresh' ? await refresh() : { status: 404, body: { error: { code: 'not_found', message: 'not here' } } };
    if (a instanceof Error) throw a;
    return new Response(JSON.stringify(a.body ?? null), { status: a.status ?? 200 });
  });
  return urls;
}
const refused = (status: number, code: string) => ({ status, body: { error: { code, message: code } } });

const { root, tid, flush } = useDom({ globals: { WebSocket: QuietSocket } });
const start = () => act(() => render(<App cfg={CFG} />, root()));

/** Everything in localStorage and sessionStorage, as one string. */
function stored(): string {
  const all: string[] = [];
  for (const s of [localStorage, sessionStorage]) for (let i = 0; i < s.length; i++) all.push(`${s.key(i)}=${s.getItem(s.key(i)!)}`);
  return all.join('\n');
}

describe('the start of the app', () => {
  it('"Signing in…" while the refresh is under way (no sign-in form), then the desk; the token only in memory', async () => {
    sessionStorage.setItem('omnidesk.session', JSON.stringify({ token: 'old-long-lived', agent: ANN })); // left by an older build
    let answer!: (a: Answer) => void;
    const urls = stubFetch(() => new Promise<Answer>((r) => (answer = r)));
    start();
    await flush();
    expect(tid('resuming')!.textContent).toBe('omnideskSigning in…');
    expect(tid('resuming')!.getAttribute('role')).toBe('status');
    expect(tid('login-form')).toBeNull();
    expect(sessionStorage.getItem('omnidesk.session')).toBeNull(); // removed at start
    expect(urls[0]).toBe('/api/v1/auth/refresh');
    answer({ body: { token: 'tok-in-memory', expires_at: new Date(Date.now() + 900_000).toISOString(), agent: ANN } });
    await flush();
    await flush();
    expect(tid('resuming')).toBeNull();
    expect(tid('login-form')).toBeNull();
    expect(tid('account')).not.toBeNull();
    expect(stored()).not.toContain('tok-in-memory');
  });

  it('no session (a first visit, or signed out): the sign-in page with no notice', async () => {
    stubFetch(() => refused(401, 'no_session'));
    start();
    await flush();
    expect(tid('login-form')).not.toBeNull();
    expect(tid('session-expired')).toBeNull();
    expect(tid('signed-out')).toBeNull();
  });

  it('a session ended elsewhere: the sign-in page says so', async () => {
    stubFetch(() => refused(401, 'session_ended'));
    start();
    await flush();
    expect(tid('session-expired')!.getAttribute('data-code')).toBe('session_ended');
    expect(tid('session-expired')!.textContent).toContain('Your session ended — sign in again.');
  });

  it('a sign-in 30 days old: the sign-in page says it expired', async () => {
    stubFetch(() => refused(401, 'session_too_old'));
    start();
    await flush();
    expect(tid('session-expired')!.textContent).toBe('Your session has expired. Sign in again; your drafts are kept.');
  });

  it('the server out of reach: says so, counts down and tries again by itself; Retry now tries at once', async () => {
    vi.useFakeTimers({ now: Date.parse('2026-03-02T10:00:00Z'), toFake: ['Date', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    let answer: Answer = new TypeError('Failed to fetch');
    const urls = stubFetch(() => answer);
    start();
    await act(async () => void (await vi.advanceTimersByTimeAsync(0)));
    expect(tid('unreachable')!.getAttribute('role')).toBe('alert');
    expect(tid('unreachable')!.textContent).toContain('Cannot reach the server to sign you in.');
    expect(tid('unreachable-retry-in')!.textContent).toBe('Trying again in 2 s…');
    expect(tid('login-form')).toBeNull();
    await act(async () => void (await vi.advanceTimersByTimeAsync(2_000)));
    await act(async () => void (await vi.advanceTimersByTimeAsync(0)));
    expect(urls).toHaveLength(2);
    expect(tid('unreachable-retry-in')!.textContent).toBe('Trying again in 4 s…'); // further apart each time
    answer = refused(401, 'no_session');
    await act(async () => tid('unreachable-retry')!.click());
    await act(async () => void (await vi.advanceTimersByTimeAsync(0)));
    expect(urls).toHaveLength(3);
    expect(tid('unreachable')).toBeNull();
    expect(tid('login-form')).not.toBeNull();
  });
});
