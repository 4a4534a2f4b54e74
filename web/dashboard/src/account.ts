// The signed-in agent's account: what the sign-in form and the change-password form say about a
// refusal (a lock with its wait, a disabled account, a wrong current password, a weak new one, a
// wrong two-factor code), when the sign-in asks for a two-factor code (`needsTotp`),
// their checks before sending, what the sign-in page says after a session ended, and what
// resuming the sign-in at start comes to. Unit-tested in test/roles.test.ts and
// test/session.test.ts.

import { ApiError, NetworkError, type Api, type Session } from './api';
import type { Key } from './i18n';

type T = (key: Key, vars?: Record<string, string>) => string;

/** The least length of a new password (the server's rule; it also refuses the most common ones). */
export const MIN_PASSWORD = 8;

/** What a form says: a UI string, or sign-ins locked until `until` (ms since the epoch; null: unknown). */
export type Said =
  | { kind: 'text'; key: Key; vars?: Record<string, string> }
  | { kind: 'locked'; until: number | null; message: string };

const text = (key: Key, vars?: Record<string, string>): Said => ({ kind: 'text', key, vars });

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A 429 `too_many_attempts`: until when (from `Retry-After`), and the server's own message. */
export function lockOf(e: ApiError, now: number): Said {
  return { kind: 'locked', until: e.retryAfter !== null ? now + e.retryAfter * 1000 : null, message: e.message };
}

/**
 * The password was right and the account has two-factor sign-in on (401 `totp_required`): the
 * sign-in page asks for the code and sends the same e-mail and password with it.
 */
export function needsTotp(e: unknown): boolean {
  return e instanceof ApiError && e.status === 401 && e.code === 'totp_required';
}

/** What the sign-in form says about a refused sign-in. */
export function signInError(e: unknown, now: number = Date.now()): Said {
  if (e instanceof NetworkError) return text('loginOffline');
  if (e instanceof ApiError) {
    if (e.status === 401 && e.code === 'bad_totp') return text('totp_badSignIn');
    if (e.status === 401 && e.code === 'totp_required') return text('totp_enterCode');
    if (e.status === 401) return text('badCredentials');
    if (e.status === 429) return lockOf(e, now);
    if (e.status === 403 && e.code === 'account_disabled') return text('accountDisabled');
  }
  return text('loginFailed', { a: messageOf(e) });
}

/** The change-password form's fields. */
export interface PasswordForm {
  current: string;
  next: string;
  confirm: string;
}

export const EMPTY_PASSWORD_FORM: PasswordForm = { current: '', next: '', confirm: '' };

export type PasswordProblem = 'pw_needCurrent' | 'pw_tooShort' | 'pw_mismatch' | 'pw_same';

/** What is wrong with the form before it is sent (nothing: []). Length in characters, as the server counts. */
export function passwordProblems(f: PasswordForm): PasswordProblem[] {
  const out: PasswordProblem[] = [];
  if (f.current === '') out.push('pw_needCurrent');
  if ([...f.next].length < MIN_PASSWORD) out.push('pw_tooShort');
  else if (f.next === f.current) out.push('pw_same');
  if (f.confirm !== f.next) out.push('pw_mismatch');
  return out;
}

/**
 * What the change-password form says about a refusal: the current password was wrong (403), the
 * new one refused (400: the server's reason, without the field name it starts with), locked (429).
 */
export function passwordError(e: unknown, now: number = Date.now()): Said {
  if (e instanceof NetworkError) return text('pw_offline');
  if (e instanceof ApiError) {
    if (e.status === 403 && e.code === 'wrong_password') return text('pw_wrongCurrent');
    if (e.status === 429) return lockOf(e, now);
    if (e.status === 400) return text('pw_refused', { a: e.message.replace(/^new_password:\s*/, '') });
  }
  return text('pw_failed', { a: messageOf(e) });
}

/** A wait for people, in the UI language: "45 seconds", "12 minutes", "3 hours" (as the server words it). */
export function waitText(secs: number, t: T): string {
  const s = Math.max(1, Math.ceil(secs));
  if (s <= 1) return t('wait_second');
  if (s <= 90) return t('wait_seconds', { a: String(s) });
  if (s <= 5400) return t('wait_minutes', { a: String(Math.ceil(s / 60)) });
  return t('wait_hours', { a: String(Math.ceil(s / 3600)) });
}

/** The first letter in upper case (a server message shown as a sentence). */
export function sentence(s: string): string {
  return s ? s[0].toUpperCase() + s.slice(1) : s;
}

/**
 * The text of what a form says at `now`: a lock counts down ("Too many failed sign-ins; try again
 * in 44 seconds."), then says it is over; a lock of unknown length shows the server's message.
 */
export function saidText(said: Said, t: T, now: number = Date.now()): string {
  if (said.kind === 'text') return t(said.key, said.vars);
  if (said.until === null) return sentence(said.message);
  const left = Math.ceil((said.until - now) / 1000);
  return left > 0 ? t('tooManyAttempts', { a: waitText(left, t) }) : t('lockOver');
}

/** Why the sign-in page is shown (the code of the 401 that ended the session, `signed_out`, or null: a first visit). */
export function loginNoticeKey(code: string | null): Key | null {
  if (code === null) return null;
  if (code === 'signed_out') return 'signedOut';
  if (code === 'session_ended') return 'sessionEnded';
  return 'sessionExpired';
}

/**
 * What resuming the sign-in at start came to: signed in; the sign-in page (`ended`: why, for its
 * notice); or the server out of reach (offline, or answering 5xx / 429), to try again.
 */
export type Resumed = { kind: 'in'; session: Session } | { kind: 'out'; ended: string | null } | { kind: 'unreachable' };

/**
 * Resumes the sign-in this browser holds with its refresh cookie (`POST /auth/refresh`). No
 * cookie (`no_session`: a first visit, signed out, or too long away) shows the sign-in page with
 * no notice; a session ended elsewhere or too old says so.
 */
export async function resumeSession(api: Pick<Api, 'refresh'>): Promise<Resumed> {
  try {
    return { kind: 'in', session: await api.refresh() };
  } catch (e) {
    if (e instanceof NetworkError) return { kind: 'unreachable' };
    if (e instanceof ApiError && (e.status >= 500 || e.status === 429)) return { kind: 'unreachable' };
    const code = e instanceof ApiError && e.status === 401 ? e.code : null;
    return { kind: 'out', ended: code === 'session_ended' || code === 'session_too_old' ? code : null };
  }
}

/** How long to wait before resuming again after `failures` unreachable attempts: 2, 4, 8, 16, then 30 s. */
export function resumeRetryMs(failures: number): number {
  return Math.min(30_000, 1000 * 2 ** Math.max(1, Math.min(failures, 5)));
}
