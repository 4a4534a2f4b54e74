// Two-factor sign-in (TOTP, RFC 6238: HMAC-SHA1, 6 digits, 30-second steps, as Google
// Authenticator does), the pure side: what a code field keeps of what is typed, the shared key
// shown in blocks of four, the `otpauth://` link (only that scheme is ever made a link), the
// setup answer read, and what the setup and turn-off forms say about a refusal. The codes are
// computed and checked by the server only. Unit-tested in test/totp.test.ts.

import { ApiError, NetworkError } from './api';
import { lockOf, type Said } from './account';

/** The digits of a code. */
export const TOTP_DIGITS = 6;

/**
 * What a code field keeps of what was typed or pasted: the digits only (full-width ones from an
 * input method as ASCII; the spaces of "123 456" dropped), at most six.
 */
export function codeDigits(input: string): string {
  return input.normalize('NFKC').replace(/\D+/g, '').slice(0, TOTP_DIGITS);
}

/** Six digits: a code to send. */
export function codeReady(code: string): boolean {
  return new RegExp(`^\\d{${TOTP_DIGITS}}$`).test(code);
}

/** The key without any white space (what Copy puts on the clipboard). */
export function compactSecret(secret: string): string {
  return secret.replace(/\s+/g, '');
}

/** The key in blocks of four characters, for reading it off the screen: "JBSW Y3DP EHPK 3PXP". */
export function groupSecret(secret: string): string {
  return (compactSecret(secret).match(/.{1,4}/g) ?? []).join(' ');
}

/** The setup link when it is an `otpauth://` URL (anything else is never made a link), else null. */
export function otpauthHref(url: unknown): string | null {
  if (typeof url !== 'string') return null;
  const u = url.trim();
  return /^otpauth:\/\/[^\s]+$/i.test(u) ? u : null;
}

/** What `POST /agents/me/totp` answered: the key to add to the app, and its link. */
export interface TotpSetup {
  secret: string;
  /** The `otpauth://totp/…` link; null when the answer had none that is one. */
  otpauthUrl: string | null;
}

/** The answer of `POST /agents/me/totp` (`{secret, otpauth_url}`); null without a key. */
export function parseTotpSetup(answer: unknown): TotpSetup | null {
  if (!answer || typeof answer !== 'object') return null;
  const a = answer as { secret?: unknown; otpauth_url?: unknown };
  if (typeof a.secret !== 'string' || compactSecret(a.secret) === '') return null;
  return { secret: compactSecret(a.secret), otpauthUrl: otpauthHref(a.otpauth_url) };
}

/** Whether two-factor sign-in is on after a 2xx answer of confirm/disable (`{totp}`); `fallback` when not said. */
export function totpStateOf(answer: unknown, fallback: boolean): boolean {
  const on = answer && typeof answer === 'object' ? (answer as { totp?: unknown }).totp : undefined;
  return typeof on === 'boolean' ? on : fallback;
}

/** The codes of a refusal of the password typed (the server's `bad_credentials`; its login's `invalid_credentials` too). */
const WRONG_PASSWORD = new Set(['bad_credentials', 'invalid_credentials', 'wrong_password']);
/** The codes of a refusal of the code typed. */
const WRONG_CODE = new Set(['invalid_code', 'bad_totp']);

/**
 * What the two-factor forms say about a refusal: a wrong password (401 `bad_credentials`), a
 * wrong code (400 `invalid_code`), a lock (429), the server unreachable, else its message.
 */
export function totpError(e: unknown, now: number = Date.now()): Said {
  if (e instanceof NetworkError) return { kind: 'text', key: 'totp_offline' };
  if (e instanceof ApiError) {
    if (WRONG_CODE.has(e.code)) return { kind: 'text', key: 'totp_badCode' };
    if ((e.status === 401 || e.status === 403) && WRONG_PASSWORD.has(e.code)) return { kind: 'text', key: 'pw_wrongCurrent' };
    if (e.status === 429) return lockOf(e, now);
  }
  return { kind: 'text', key: 'totp_failed', vars: { a: e instanceof Error ? e.message : String(e) } };
}

/** A refusal that is about the password typed (its field is marked). */
export function aboutPassword(said: Said | null): boolean {
  return said?.kind === 'text' && (said.key === 'pw_wrongCurrent' || said.key === 'pw_needCurrent');
}

/** A refusal that is about the code typed (its field is marked). */
export function aboutCode(said: Said | null): boolean {
  return said?.kind === 'text' && (said.key === 'totp_badCode' || said.key === 'totp_enterCode');
}
